# Calls function/handler.py's handle(req) once per request (classic watchdog): the body
# arrives on stdin, the return value is printed as the response.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Packages from requirements.txt are installed here by `faas-cli build`.
sys.path.insert(0, os.path.join(HERE, "python"))
sys.path.insert(0, HERE)

from function import handler  # noqa: E402


def get_stdin():
    return sys.stdin.read()


if __name__ == "__main__":
    st = get_stdin()
    ret = handler.handle(st)
    if ret is not None:
        print(ret)
