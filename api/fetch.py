"""Fetching an image from a URL a client gave, without letting the client reach the server's own network.

    >>> from api.fetch import fetch_url
    >>> fetch_url("http://127.0.0.1/line.png", max_bytes=1_000_000, timeout=5)
    Traceback (most recent call last):
    api.fetch.FetchError: Refusing to fetch from 127.0.0.1 (127.0.0.1): not a public address

Only http(s) is fetched; every address the host name resolves to must be public (unless `allow_private`), and the
connection goes to the address that was checked, so a second DNS answer cannot redirect it. Redirects are followed
a few times, each target checked the same way. The body is read in pieces and given up on past `max_bytes` or past
`timeout` seconds in all.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_REDIRECTS = 3
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
CHUNK_SIZE = 64 * 1024


class FetchError(ValueError):
    """The URL is refused, or what is behind it could not be fetched; `status` is the HTTP status to answer."""

    status = 400


class FetchTooLarge(FetchError):
    status = 413


def fetch_url(url: str, max_bytes: int, timeout: float, allow_private: bool = False) -> bytes:
    """The body of a 200 answer to GET `url`, following up to `MAX_REDIRECTS` checked redirects."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        body, location = _get(url, max_bytes, deadline, allow_private)
        if location is None:
            return body
        url = urljoin(url, location)
    raise FetchError(f"More than {MAX_REDIRECTS} redirects")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    special = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
    return address.is_global and not special


def _get(url: str, max_bytes: int, deadline: float, allow_private: bool) -> tuple[bytes, str | None]:
    """(body, None) for a 200 answer, (b"", location) for a redirect."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise FetchError(f"Only http and https URLs can be fetched, not {scheme or 'a URL without a scheme'!r}")
    if not parts.hostname:
        raise FetchError("The URL has no host")
    try:
        host = parts.hostname.encode("idna").decode("ascii")  # international names as DNS spells them
    except UnicodeError as e:
        raise FetchError(f"Bad host name in URL: {e}") from e
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not fetched")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as e:
        raise FetchError(f"Bad port in URL: {e}") from e
    address = _checked_address(host, port, allow_private)
    remaining = deadline - time.monotonic()
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, remaining)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", target, headers={"User-Agent": "text-recognizer-api", "Accept": "image/*"})
        response = connection.getresponse()
        if response.status in REDIRECT_STATUSES and response.getheader("Location"):
            return b"", response.getheader("Location")
        if response.status != 200:
            raise FetchError(f"The URL answered HTTP {response.status}")
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchTooLarge(f"The image at the URL is larger than {max_bytes} bytes")
        return _read_capped(response, max_bytes, deadline), None
    except FetchError:
        raise
    # Refused, reset, timed out, TLS failure, bad HTTP, or a path http.client will not send (control characters).
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise FetchError(f"Could not fetch the URL: {e}") from e
    finally:
        connection.close()


def _checked_address(host: str, port: int, allow_private: bool) -> str:
    """The first address `host` resolves to, once every one of them is known to be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchError(f"Cannot resolve host {host!r}") from e
    # Scope ids (fe80::1%eth0) are not part of the address.
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise FetchError(f"Refusing to fetch from {host} ({address}): not a public address")
    return str(addresses[0])


def _read_capped(response: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(CHUNK_SIZE):  # read1 returns what has arrived rather than waiting for a full chunk
        size += len(chunk)
        if size > max_bytes:
            raise FetchTooLarge(f"The image at the URL is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError("Fetching the URL took too long")
        chunks.append(chunk)
    return b"".join(chunks)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """A connection to an already checked address, sending the URL's host name in the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=max(timeout, 0.001))
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """TLS to the checked address, with the certificate verified against the URL's host name."""

    default_port = 443

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)
