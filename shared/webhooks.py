"""Webhooks a receiver can trust: Standard Webhooks signatures and a callback-URL check
against server-side request forgery.

Signature (https://www.standardwebhooks.com): ``webhook-signature: v1,<base64 HMAC-SHA256 of
"<webhook-id>.<webhook-timestamp>.<body>">`` keyed with the secret ``whsec_<base64 key>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackRefused(ValueError):
    """The callback URL is not one the server will call."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (ValueError if malformed)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except binascii.Error as e:
        raise ValueError("a webhook secret is whsec_ followed by base64") from e
    if len(key) < 16:
        raise ValueError("a webhook secret's key must be at least 16 bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery attempt."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str | list[str] | None, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers: one ``v1,`` signature per secret, space-separated (two
    while a rotated secret still signs); none when there is no secret."""
    out = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "content-type": "application/json"}
    secrets = [secret] if isinstance(secret, str) else secret or []
    if secrets:
        out["webhook-signature"] = " ".join(sign(s, msg_id, timestamp, body) for s in secrets)
    return out


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _public(ip.ipv4_mapped)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback
                                 or ip.is_link_local or ip.is_private or ip.is_unspecified)


def _allowed(host: str, ip: IPAddress, allow: list[str]) -> bool:
    for entry in allow:
        if entry.lower() == host.lower():
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def resolve(host: str) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal is itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as e:
        raise CallbackRefused(f"callback_url host {host!r} does not resolve") from e
    return [ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos]


def check_callback_url(url: str, allow: list[str]) -> list[IPAddress]:
    """Refuse a URL that is not http(s) or whose host resolves to any non-public address
    (loopback, private, link-local, multicast, reserved, unspecified, shared) unless the host
    name or the address matches ``allow`` (host names and CIDR networks). Returns the checked
    addresses: a delivery connects to one of them, never resolving the name again (a DNS answer
    that changes between check and connect must not reach an internal address)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError as e:
        raise CallbackRefused(f"callback_url is not a valid URL: {e}") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("callback_url must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise CallbackRefused("callback_url must not carry credentials")
    host = parts.hostname
    ips = resolve(host)
    for ip in ips:
        if not _public(ip) and not _allowed(host, ip, allow):
            raise CallbackRefused(
                f"callback_url host {host!r} resolves to the non-public address {ip}; "
                "only public addresses (or the configured allow-list) are called")
    return ips
