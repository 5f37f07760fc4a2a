"""HTTP connections that finish by a deadline, headers included.

A socket timeout bounds each wait for data, not an exchange: a server sending one byte of its headers every few
seconds never trips it, and holds the client as long as it likes. Here every wait (connecting, the TLS handshake,
each read of the status line, headers and body) lasts at most what is left before the deadline:

    >>> from text_recognizer.http_deadline import DeadlineHTTPConnection
    >>> connection = DeadlineHTTPConnection("example.com", deadline=time.monotonic() + 10, timeout=5)
    >>> connection.request("GET", "/")
    >>> connection.getresponse().read()   # TimeoutError once the 10 s are up, whatever the server does
"""

import http.client
import io
import socket
import time
from typing import Any


def wait_time(deadline: float, timeout: float | None = None) -> float:
    """Seconds one wait may last: what is left before `deadline` (a `time.monotonic()` time), at most `timeout`.

    Raises TimeoutError once the deadline has passed (a timeout of 0 would make a socket non-blocking instead).
    """
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left if timeout is None else min(left, timeout)


class _DeadlineReader(io.RawIOBase):
    """The reads of a response's socket file, each waiting only until the deadline."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: float, timeout: float | None):
        self._raw, self._sock, self._deadline, self._timeout = raw, sock, deadline, timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(wait_time(self._deadline, self._timeout))
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        # The socket file counts as a reference to the socket: closing it lets the socket close.
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """A response whose status line, headers and body are read by `deadline`; set by `DeadlineHTTPConnection`."""

    deadline: float
    read_timeout: float | None

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any):
        super().__init__(sock, *args, **kwargs)
        # http.client's buffered socket file, with its raw reads bounded; it keeps the socket open until the response
        # is closed, even after the connection closes (as it does for a response without keep-alive).
        raw = self.fp.detach()
        self.fp = io.BufferedReader(_DeadlineReader(raw, sock, self.deadline, self.read_timeout))


class DeadlineHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose connect, request and response all end by `deadline` (a `time.monotonic()` time);
    `timeout`, if given, still bounds each wait as http.client's does."""

    def __init__(
        self, host: str, port: int | None = None, *, deadline: float, timeout: float | None = None, **kwargs: Any
    ):
        super().__init__(host, port, timeout=timeout, **kwargs)
        self.deadline = deadline
        # urllib passes socket's "default timeout" marker when it was given none: then only the deadline bounds waits.
        self.read_timeout = timeout if isinstance(timeout, int | float) else None
        # A response class of this connection's own, since http.client makes responses from the socket alone.
        attributes = {"deadline": deadline, "read_timeout": self.read_timeout}
        self.response_class = type("DeadlineResponse", (_DeadlineResponse,), attributes)

    def connect(self) -> None:
        # The socket's timeout also bounds sending the request (sendall bounds the whole send since Python 3.5) and
        # a TLS handshake (likewise, for the whole handshake).
        self.timeout = wait_time(self.deadline, self.read_timeout)
        super().connect()


class DeadlineHTTPSConnection(DeadlineHTTPConnection, http.client.HTTPSConnection):
    """`DeadlineHTTPConnection` over TLS (`http.client.HTTPSConnection`'s arguments: `context`, ...)."""
