"""Hostile callers, round two (issue 23): what a stranger or one tenant could do to the service
or to another tenant, each tried against real processes on loopback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.procs import Stack, private_stack
from tests.test_security import h, new_key

JSON_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Auth required, a small body bound, a cpu worker and the gateway (no stt: jobs stop
    after prepare, which is all these tests need)."""
    with private_stack(tmp_path_factory.mktemp("hostile2"), ETHOS_AUTH__REQUIRED="true",
                       ETHOS_GATEWAY__MAX_JSON_BYTES=str(JSON_LIMIT)) as st:
        st.gateway()
        yield st


@pytest.fixture(scope="module")
def key(hostile: Stack) -> str:
    return new_key(hostile, "tenant")


def raw_request(st: Stack, head: str, body: bytes = b"", wait_s: float = 10) -> tuple[int, bytes]:
    """Send a request's head (and the start of a body) on a bare socket; the status line and
    what came back within ``wait_s`` (the rest of the announced body is never sent)."""
    with socket.create_connection(("127.0.0.1", st.port), timeout=wait_s) as s:
        s.sendall(head.encode() + b"\r\n" + body)
        got = b""
        deadline = time.time() + wait_s
        while time.time() < deadline and b"\r\n\r\n" not in got:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            got += chunk
    status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else 0
    return status, got


@pytest.mark.parametrize("ctype", ["text/plain", "Application/JSON", "application/json", None])
def test_keyless_body_is_refused_before_it_is_read(hostile: Stack, ctype: str | None) -> None:
    """A keyless caller announcing 1 GB on a JSON route gets 401 at once, without sending it."""
    head = (f"PUT /v1/jobs/job_x/result HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {1 << 30}\r\n"
            + (f"Content-Type: {ctype}\r\n" if ctype else ""))
    t0 = time.perf_counter()
    status, got = raw_request(hostile, head, b"{" + b" " * 1000)
    assert status == 401, got
    assert time.perf_counter() - t0 < 5
    # chunked, no key, any content type: 401 too
    status, got = raw_request(hostile, "PATCH /v1/jobs/job_x/speakers HTTP/1.1\r\nHost: x\r\n"
                              "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n", b"400\r\n" + b"a" * 1024)
    assert status == 401, got


@pytest.mark.parametrize("ctype", ["text/plain", "Application/JSON", "application/x-www-form-urlencoded"])
def test_key_holders_bodies_are_bounded(hostile: Stack, key: str, ctype: str) -> None:
    """With a key, a body over the bound gets 413 whatever its content type: at once when
    announced, after the bound when chunked."""
    head = (f"PUT /v1/jobs/job_x/result HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {1 << 30}\r\n")
    status, got = raw_request(hostile, head, b"x" * 100)
    assert status == 413, got

    def chunks() -> Iterator[bytes]:
        for _ in range(200):  # 200 × 4 KiB = 800 KiB, well over the 64 KiB bound
            yield b"x" * 4096

    with httpx.Client(base_url=hostile.url, timeout=30) as c:
        r = c.put("/v1/jobs/job_x/result", content=chunks(), headers={**h(key), "Content-Type": ctype})
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
        # a small body goes through to the route (404: no such job)
        r = c.put("/v1/jobs/job_x/result", content=json.dumps({"segments": []}),
                  headers={**h(key), "Content-Type": ctype, "If-Match": '"v1"'})
        assert r.status_code in (400, 404), r.text
        # a 5,000-digit Content-Length is too large, not a crash
        status, got = raw_request(hostile, head.replace(str(1 << 30), "9" * 5000), b"x")
        assert status in (400, 413), got
