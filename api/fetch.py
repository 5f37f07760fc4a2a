"""Fetching an image from a URL a client gave, without letting the client reach the server's own network.

    >>> from api.fetch import fetch_url
    >>> fetch_url("http://127.0.0.1/line.png", max_bytes=1_000_000, timeout=5)
    Traceback (most recent call last):
    api.fetch.FetchError: Refusing to fetch from 127.0.0.1 (127.0.0.1): not a public address

Only http(s) is fetched; every address the host name resolves to must be public (unless `allow_private`), and the
connection goes to the address that was checked, so a second DNS answer cannot redirect it. Redirects are followed
a few times, each target checked the same way. The body is read in pieces and given up on past `max_bytes`; the
whole fetch (connecting, the headers, redirects, the body) is given up on past `timeout` seconds, however slowly the
server trickles its bytes (see `text_recognizer.http_deadline`). Name resolution is the system's, not bounded here.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from text_recognizer.http_deadline import DeadlineHTTPConnection, wait_time

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
        try:
            url = urljoin(url, location)
        except ValueError as e:  # a malformed target, such as http://[::1:P/
            raise FetchError(f"Malformed redirect target: {e}") from e
    raise FetchError(f"More than {MAX_REDIRECTS} redirects")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet: global (`ipaddress`'s `is_global`), not multicast, reserved or
    site-local. An IPv6 address that carries an IPv4 one is judged by it too, since traffic to it ends up there:
    ::ffff:127.0.0.1 (IPv4-mapped) and 64:ff9b::7f00:1 (NAT64) are only spellings of 127.0.0.1, and 2002:7f00:1::
    (6to4) reaches it through a relay; Teredo's 2001::/32 is not global at all."""
    if isinstance(address, ipaddress.IPv6Address):
        spelt = address.ipv4_mapped
        if address in _NAT64:
            spelt = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)  # the last 32 bits
        if spelt is not None:
            return is_public(spelt)
        # fec0::/10 (site-local) is deprecated, but still not the public internet.
        if address.is_site_local:
            return False
        tunnelled = [address.sixtofour, *(address.teredo or ())]
        if not all(is_public(inner) for inner in tunnelled if inner is not None):
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


# NAT64's well-known prefix: 64:ff9b::a.b.c.d reaches a.b.c.d through a translator.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _get(url: str, max_bytes: int, deadline: float, allow_private: bool) -> tuple[bytes, str | None]:
    """(body, None) for a 200 answer, (b"", location) for a redirect."""
    try:
        parts = urlsplit(url)
    except ValueError as e:  # brackets that hold no IPv6 address: http://[::1:P/, http://[127.0.0.1]/
        raise FetchError(f"Malformed URL: {e}") from e
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
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, deadline)
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
        return _read_capped(response, max_bytes), None
    except FetchError:
        raise
    except TimeoutError as e:  # past the deadline, in any step
        raise FetchError("Fetching the URL timed out") from e
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


def _read_capped(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(CHUNK_SIZE):  # read1 returns what has arrived rather than waiting for a full chunk
        size += len(chunk)
        if size > max_bytes:
            raise FetchTooLarge(f"The image at the URL is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class _PinnedHTTPConnection(DeadlineHTTPConnection):
    """A connection to an already checked address, sending the URL's host name in the Host header, done by
    `deadline` (a `time.monotonic()` time)."""

    def __init__(self, host: str, port: int, address: str, deadline: float):
        super().__init__(host, port, deadline=deadline)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), wait_time(self.deadline))


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """TLS to the checked address, with the certificate verified against the URL's host name."""

    default_port = 443

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)
