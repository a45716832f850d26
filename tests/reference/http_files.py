"""A file server for the remote-file tests: serves a folder over HTTP on loopback with ETag and
Last-Modified (answering 304 to a matching conditional GET), accepts PUT uploads into the folder, and logs
one line per request ("METHOD PATH STATUS") to a file the test reads.

Usage: python3 http_files.py ROOT PORT_FILE LOG_FILE
Writes the port it listens on into PORT_FILE once it is ready.
"""

import email.utils
import hashlib
import http.server
import os
import sys

ROOT, PORT_FILE, LOG_FILE = sys.argv[1], sys.argv[2], sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def record(self, status):
        with open(LOG_FILE, "a") as log:
            log.write(f"{self.command} {self.path} {status}\n")

    def path_on_disk(self):
        return os.path.join(ROOT, self.path.split("?")[0].lstrip("/"))

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(status)

    def do_GET(self):
        path = self.path_on_disk()
        if not os.path.isfile(path):
            self.answer(404, b"not found")
            return
        with open(path, "rb") as f:
            body = f.read()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(os.path.getmtime(path), usegmt=True)
        headers = [("ETag", etag), ("Last-Modified", modified)]
        if self.headers.get("If-None-Match") == etag:
            self.answer(304, b"", headers)
            return
        self.answer(200, body, headers + [("Content-Type", "application/octet-stream")])

    do_HEAD = do_GET

    def do_PUT(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        path = self.path_on_disk()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(body)
        self.answer(201)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
