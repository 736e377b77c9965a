# Serves function/handler.py's handle(req) with Flask (of-watchdog http mode), like OpenFaaS's
# python3-flask template: every method and path calls handle with the request body, and
# what it returns is the response. It listens on 127.0.0.1:$PORT, which the platform sets
# for each replica.
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Packages from requirements.txt are installed here by `faas-cli build`.
sys.path.insert(0, os.path.join(HERE, "python"))
sys.path.insert(0, HERE)

from flask import Flask, request  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from function import handler  # noqa: E402

app = Flask(__name__)
# The watchdog logs every call already.
logging.getLogger("werkzeug").setLevel(logging.ERROR)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def is_true(value):
    return value.lower() == "true" or value == "1"


@app.before_request
def fix_transfer_encoding():
    # Chunked bodies reach Flask only when the server marks the input as terminated.
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        request.environ["wsgi.input_terminated"] = True


@app.route("/", defaults={"path": ""}, methods=METHODS)
@app.route("/<path:path>", methods=METHODS)
def main_route(path):
    as_text = not is_true(os.getenv("RAW_BODY", "false"))
    return handler.handle(request.get_data(as_text=as_text))


if __name__ == "__main__":
    port = int(os.getenv("PORT", "5000"))
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"python3-flask listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()
