#!/usr/bin/env python3
"""tests/helpers/mock_openai.py — a scripted OpenAI-compatible server on loopback, for the agent tests.

Usage: mock_openai.py --script FILE --port-file FILE --log FILE [--key KEY] [--model MODEL]

Listens on 127.0.0.1, port chosen by the kernel and written to PORT-FILE once listening.

POST /v1/chat/completions answers with the script's steps in order (SCRIPT is a JSON list); a step is one of
  {"status": 200, "body": {...}}                  that body (any status; "headers": {...} adds headers)
  {"status": 429, "headers": {"Retry-After": "0"}} an error status (body: an OpenAI-style error)
  {"raw": "not json {"}                           these bytes with status 200 (or "status")
  {"answer": "TEXT"}                              a final answer; "{last_tool}" in TEXT becomes the content of
                                                  the last tool message of the request
  {"tool_calls": [{"name": "run_command", "arguments": {...}}, ...]}
                                                  the model calls tools (arguments: an object, or a string sent
                                                  as it is); ids are call_<step>_<i>
A step may add "repeat": true (served for every later request), "delay": SECONDS (before answering) and
"content": TEXT (beside tool_calls). Shorthand answers report usage 10 prompt + 5 completion tokens. When the
script is exhausted the answer is 400 "mock: script exhausted".
With --key, a request without "Authorization: Bearer KEY" gets 401 (OpenAI's body). With --model, another
model gets 404 model_not_found (OpenAI's body).
GET /v1/models lists --model (or "mock-model").
Every request is appended to LOG as one JSON line: {"method", "path", "headers", "body" (parsed JSON, or
"body_raw"), "step" (the script step served, or null)}.
"""
import argparse
import json
import os
import socketserver
import threading
import time
import http.server

USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def completion(message, finish):
    return {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "mock",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": USAGE,
    }


def openai_error(message, etype, code):
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def last_tool_content(req):
    for m in reversed((req or {}).get("messages", [])):
        if m.get("role") == "tool":
            return m.get("content") or ""
    return ""


class State:
    def __init__(self, script):
        self.script = script
        self.next = 0
        self.lock = threading.Lock()

    def take(self):
        """The step to serve and its index, or (None, None) when exhausted."""
        with self.lock:
            if self.next < len(self.script):
                i = self.next
                if not self.script[i].get("repeat"):
                    self.next += 1
                return i, self.script[i]
            return None, None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-openai/1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, fmt, *args):
        pass

    def log_request_json(self, body_raw, step):
        rec = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "step": step}
        try:
            rec["body"] = json.loads(body_raw) if body_raw else None
        except ValueError:
            rec["body_raw"] = body_raw.decode("utf-8", "replace")
        with self.server.log_lock, open(self.server.log, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def reply(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.log_request_json(b"", None)
        if self.path.rstrip("/") == "/v1/models":
            model = self.server.model or "mock-model"
            self.reply(200, {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "mock"}]})
        else:
            self.reply(404, openai_error("no such path " + self.path, "invalid_request_error", None))

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            req = json.loads(raw)
        except ValueError:
            req = None
        if self.path != "/v1/chat/completions":
            self.log_request_json(raw, None)
            return self.reply(404, openai_error("no such path " + self.path, "invalid_request_error", None))
        key = self.server.key
        if key is not None and self.headers.get("Authorization") != "Bearer " + key:
            self.log_request_json(raw, None)
            return self.reply(401, openai_error("Incorrect API key provided: " + str(self.headers.get("Authorization")),
                                                "invalid_request_error", "invalid_api_key"))
        model = self.server.model
        if model is not None and (req or {}).get("model") != model:
            self.log_request_json(raw, None)
            wanted = (req or {}).get("model")
            msg = "The model `%s` does not exist or you do not have access to it." % wanted
            return self.reply(404, openai_error(msg, "invalid_request_error", "model_not_found"))
        i, step = self.server.state.take()
        self.log_request_json(raw, i)
        if step is None:
            return self.reply(400, openai_error("mock: script exhausted", "invalid_request_error", None))
        if step.get("delay"):
            time.sleep(float(step["delay"]))
        status = int(step.get("status", 200))
        headers = step.get("headers")
        if "raw" in step:
            return self.reply(status, step["raw"].encode(), headers)
        if "answer" in step:
            text = step["answer"].replace("{last_tool}", last_tool_content(req))
            return self.reply(status, completion({"role": "assistant", "content": text}, "stop"), headers)
        if "tool_calls" in step:
            calls = []
            for j, c in enumerate(step["tool_calls"]):
                args = c.get("arguments", {})
                calls.append({"id": c.get("id", "call_%d_%d" % (i, j)), "type": "function",
                              "function": {"name": c["name"],
                                           "arguments": args if isinstance(args, str) else json.dumps(args)}})
            msg = {"role": "assistant", "content": step.get("content"), "tool_calls": calls}
            return self.reply(status, completion(msg, "tool_calls"), headers)
        if "body" in step:
            return self.reply(status, step["body"], headers)
        if status == 429:
            body = openai_error("Rate limit reached (mock)", "requests", "rate_limit_exceeded")
        else:
            body = openai_error("mock error %d" % status, "server_error", None)
        return self.reply(status, body, headers)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--key")
    ap.add_argument("--model")
    a = ap.parse_args()
    with open(a.script) as f:
        script = json.load(f)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(script)
    srv.log = a.log
    srv.log_lock = threading.Lock()
    srv.key = a.key
    srv.model = a.model
    open(a.log, "a").close()
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
