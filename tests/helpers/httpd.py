#!/usr/bin/env python3
"""tests/helpers/httpd.py — a loopback HTTP server for the egress tests.

Usage: httpd.py DIR PORTFILE LOGFILE [BIND]   (BIND: 127.0.0.1 or ::1)
Serves DIR on BIND, port chosen by the kernel and written to PORTFILE once
listening; every request line is appended to LOGFILE (the host-side record
of what reached the server). /echo-host answers with the Host header it got.
"""
import http.server
import socket
import socketserver
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        with open(sys.argv[3], "a") as f:
            f.write("%s %s\n" % (self.client_address[0], self.requestline))

    def do_GET(self):
        if self.path == "/echo-host":
            body = ("host=%s\n" % self.headers.get("Host", "")).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    directory, portfile, _log = sys.argv[1:4]
    bind = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    if ":" in bind:
        Server.address_family = socket.AF_INET6
    handler = lambda *a, **kw: Handler(*a, directory=directory, **kw)  # noqa: E731
    srv = Server((bind, 0), handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
