#!/usr/bin/env python3
"""mock_registry.py — a registry speaking Docker Hub's Bearer token flow, for
tests/integration/image.sh: serves the OCI layout LAYOUT as repository
test/img (tags from org.opencontainers.image.ref.name) on 127.0.0.1:PORT.

  GET /v2/test/img/...  without "Authorization: Bearer good-token"
      -> 401, WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service="mock",scope="repository:test/img:pull"
  GET /token?service=mock&scope=repository:test/img:pull -> {"token": "good-token"}
  blobs answer with a 307 redirect to /storage/<hex> (served without auth), as registries backed by S3 do.
Requests are logged to LOG, one line each.

usage: mock_registry.py PORT LAYOUT LOG
"""
import http.server
import json
import os
import sys
import urllib.parse

PORT, LAYOUT, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
TOKEN = "good-token"


def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    def send(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def blob(self, hexd):
        p = os.path.join(LAYOUT, "blobs", "sha256", hexd)
        if len(hexd) != 64 or not os.path.isfile(p):
            return None
        with open(p, "rb") as f:
            return f.read()

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        log("GET %s auth=%s" % (self.path, self.headers.get("Authorization", "-")))
        if u.path == "/token":
            q = urllib.parse.parse_qs(u.query)
            if q.get("service") != ["mock"] or q.get("scope") != ["repository:test/img:pull"]:
                return self.send(400, b'{"error":"bad scope"}')
            return self.send(200, json.dumps({"token": TOKEN}).encode())
        if u.path.startswith("/storage/"):
            b = self.blob(u.path[len("/storage/"):])
            return self.send(200, b, "application/octet-stream") if b is not None else self.send(404)
        if not u.path.startswith("/v2/"):
            return self.send(404)
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            ch = 'Bearer realm="http://127.0.0.1:%d/token",service="mock",scope="repository:test/img:pull"' % PORT
            return self.send(401, b'{"errors":[]}', headers=[("WWW-Authenticate", ch)])
        parts = u.path.split("/")
        if len(parts) != 6 or parts[2:4] != ["test", "img"]:
            return self.send(404)
        kind, ref = parts[4], parts[5]
        if kind == "blobs" and ref.startswith("sha256:"):
            return self.send(307, headers=[("Location", "/storage/" + ref[7:])])
        if kind == "manifests":
            with open(os.path.join(LAYOUT, "index.json")) as f:
                idx = json.load(f)
            for m in idx["manifests"]:
                name = m.get("annotations", {}).get("org.opencontainers.image.ref.name")
                if ref in (name, m["digest"]):
                    return self.send(200, self.blob(m["digest"][7:]), m["mediaType"])
        return self.send(404)

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
