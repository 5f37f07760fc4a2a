"""An in-process HTTP server on 127.0.0.1 for download tests: nothing leaves the machine.

A handler class answers the requests; the server runs in a thread for the duration of the `with` block:

    class Handler(QuietHandler):
        def do_GET(self) -> None: ...

    with serve_locally(Handler) as base_url:   # "http://127.0.0.1:<free port>"
        download_url(f"{base_url}/file.bin", ...)
"""

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that does not log every request to stderr."""

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve_locally(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` from a thread (one thread a request) on a free port; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
