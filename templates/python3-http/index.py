# A small HTTP server (standard library only) that calls function/handler.py's
# handle(event, context) for every request, like OpenFaaS's python3-http template.
# It listens on 127.0.0.1:$PORT, which the platform sets for each replica.
import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
# Packages from requirements.txt are installed here by `faas-cli build`.
sys.path.insert(0, os.path.join(HERE, "python"))
sys.path.insert(0, HERE)

from function import handler  # noqa: E402


class Event:
    def __init__(self, request, body):
        parts = urlsplit(request.path)
        self.body = body
        self.headers = request.headers
        self.method = request.command
        self.query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query).items()}
        self.path = parts.path


class Context:
    def __init__(self):
        self.hostname = os.getenv("HOSTNAME", socket.gethostname())


def format_status_code(res):
    if isinstance(res, dict) and "statusCode" in res:
        return int(res["statusCode"])
    return 200


def format_body(res):
    body = res.get("body", "") if isinstance(res, dict) and "statusCode" in res else res
    if body is None:
        return b"", None
    if isinstance(body, (bytes, bytearray)):
        return bytes(body), None
    if isinstance(body, str):
        return body.encode("utf-8"), None
    return json.dumps(body).encode("utf-8"), "application/json"


def format_headers(res):
    if isinstance(res, dict) and isinstance(res.get("headers"), dict):
        return res["headers"]
    return {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            res = handler.handle(Event(self, body), Context())
            status = format_status_code(res)
            payload, content_type = format_body(res)
            headers = format_headers(res)
        except Exception as err:  # the caller sees the error, the log the traceback
            import traceback

            traceback.print_exc()
            status, payload, content_type, headers = 500, str(err).encode("utf-8"), None, {}
        self.send_response(status)
        sent_type = False
        for key, value in headers.items():
            self.send_header(key, str(value))
            sent_type = sent_type or key.lower() == "content-type"
        if not sent_type:
            self.send_header("Content-Type", content_type or "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_any

    def log_message(self, format, *args):
        # The watchdog already logs every call.
        pass


if __name__ == "__main__":
    port = int(os.getenv("PORT", "5000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"python3-http listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()
