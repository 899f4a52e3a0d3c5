"""Hostile callers, round two (issue 23): what a stranger or one tenant could do to the service
or to another tenant, each tried against real processes on loopback."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ethos_testing.procs import Stack, private_stack, wait_for
from tests.test_security import extra_gateway, h, new_key

JSON_LIMIT = 64 * 1024
UPLOAD_LIMIT = 1_000_000
B = "XyZ0boundary"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Auth required, a small body bound, a cpu worker and the gateway (no stt: jobs stop
    after prepare, which is all these tests need)."""
    with private_stack(tmp_path_factory.mktemp("hostile2"), ETHOS_AUTH__REQUIRED="true",
                       ETHOS_GATEWAY__MAX_JSON_BYTES=str(JSON_LIMIT),
                       ETHOS_WEBHOOKS__ALLOW='["127.0.0.1/32"]', ETHOS_WEBHOOKS__TIMEOUT_S="2",
                       ETHOS_WEBHOOKS__RETRY_FOR_S="1", ETHOS_LIMITS__MAX_DURATION_S="10",
                       ETHOS_GATEWAY__MAX_WEBSOCKETS_PER_KEY="3", ETHOS_GATEWAY__MAX_WEBSOCKETS="5",
                       ETHOS_LIMITS__MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT),
                       ETHOS_LIMITS__MAX_RESULT_VERSIONS="3") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("webhooks", 1, name="webhooks")
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


class Trickler:
    """A loopback HTTP receiver that answers one byte every ``every`` seconds, forever."""

    def __init__(self, every: float = 0.3) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.every, self.hits, self.hosts = every, 0, []  # type: ignore[var-annotated]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        self.hits += 1
        head = conn.recv(65536)
        self.hosts.append(next((ln.split(b":", 1)[1].strip().decode() for ln in head.split(b"\r\n")
                                if ln.lower().startswith(b"host:")), ""))
        try:
            for b in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 100_000:
                conn.sendall(bytes([b]))
                time.sleep(self.every)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def submit(st: Stack, key: str, data: bytes, name: str = "x.bin", **fields: str) -> str:
    with httpx.Client(base_url=st.url, timeout=30) as c:
        r = c.post("/v1/jobs", files={"file": (name, data)}, data=fields, headers=h(key))
    assert r.status_code == 202, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def job(st: Stack, key: str, job_id: str) -> dict[str, Any]:
    return httpx.get(f"{st.url}/v1/jobs/{job_id}", headers=h(key), timeout=10).json()  # type: ignore[no-any-return]


def failed(st: Stack, key: str, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """The job's view once it failed."""
    return wait_for(lambda: (j := job(st, key, job_id))["status"] == "failed" and j,  # type: ignore[no-any-return]
                    timeout, 0.2, what=f"job {job_id} to fail")


def test_slow_webhook_receiver_holds_no_cpu_process(hostile: Stack, key: str) -> None:
    """A receiver trickling its answer is cut off at the attempt's total deadline (2 s), on the
    webhooks queue: meanwhile the cpu worker (one process) goes on preparing other jobs."""
    slow = Trickler()
    try:
        garbage = os.urandom(20_000)  # not media: prepare fails it, which calls back
        first = submit(hostile, key, garbage, callback_url=f"http://127.0.0.1:{slow.port}/hook")
        wait_for(lambda: slow.hits, 30, what="the delivery to start")
        t0 = time.monotonic()
        second = submit(hostile, key, garbage)
        wait_for(lambda: job(hostile, key, second)["status"] == "failed", 30, 0.1, what="the second job")
        assert time.monotonic() - t0 < 10
        d = wait_for(lambda: job(hostile, key, first)["deliveries"], 30, 0.2, what="the attempt's record")
    finally:
        slow.close()
    assert d[0]["ok"] is False and "no answer within 2 s" in d[0]["error"], d
    assert d[0]["seconds"] < 4


def test_webhook_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name resolves to an allowed address for the check and to another one
    after; the delivery goes to the checked one, with the name as Host, resolving it once."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from shared.settings import WebhookSettings
    from workers.webhooks import post

    got: list[str] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["content-length"]))
            got.append(self.headers["host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host: Any, *args: Any, **kw: Any) -> Any:
        if host == "hooks.rebind.test":
            asked.append(host)
            ip = "127.0.0.1" if len(asked) == 1 else "192.0.2.1"  # then an address never checked
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0))]
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        url = f"http://hooks.rebind.test:{server.server_port}/hook"
        code, error = post(url, "msg_1", b"{}", WebhookSettings(allow=["127.0.0.1/32"], timeout_s=3))
    finally:
        server.shutdown()
    assert (code, error) == (204, None)
    assert got == [f"hooks.rebind.test:{server.server_port}"] and len(asked) == 1


def test_uploaded_page_is_never_served_as_one(hostile: Stack, key: str, silent_wav: Path) -> None:
    """An HTML upload (binary enough to pass the text check) comes back as a download with
    nosniff, whatever its name; a recording comes back inline as the audio type it is."""
    page = b"\x00<html><script>fetch('/v1/jobs')</script></html>" + os.urandom(4000)
    evil = submit(hostile, key, page, name="evil.html")
    wav = submit(hostile, key, silent_wav.read_bytes(), name="talk.html")
    with httpx.Client(base_url=hostile.url, headers=h(key), timeout=30) as c:
        r = c.get(f"/v1/jobs/{evil}/media")
        assert r.status_code == 200 and r.content == page
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-disposition"].startswith("attachment")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
        wait_for(lambda: job(hostile, key, wav)["media"].get("has_audio"), 30, 0.2, what="the probe")
        r = c.get(f"/v1/jobs/{wav}/media")
        assert r.headers["content-type"] == "audio/wav" and r.headers["content-disposition"].startswith("inline")
        assert r.headers["x-content-type-options"] == "nosniff"
    # nothing in storage keeps the uploaded extension
    root = hostile.env["ETHOS_STORAGE__LOCAL_ROOT"]
    names = [p.name for p in Path(root).rglob("input*")]
    assert names and all(n == "input" for n in names), names


def test_duration_is_enforced_while_decoding(hostile: Stack, key: str, tmp_path: Path) -> None:
    """A Matroska file whose header declares 1 s but which holds 60 s fails as too long."""
    import struct
    import subprocess

    src = tmp_path / "long.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "60",
                    "-c:a", "pcm_s16le", str(src)], check=True)
    data = bytearray(src.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Segment Info → Duration, an 8-byte float in ms
    data[at + 3:at + 11] = struct.pack(">d", 1000.0)
    liar = submit(hostile, key, bytes(data), name="short.mkv")
    rec = failed(hostile, key, liar, 60)
    assert rec["media"]["duration"] == 1.0  # what the header said
    assert rec["error"]["code"] == "too_long", rec["error"]


def test_ffmpeg_follows_nothing_an_upload_points_at(hostile: Stack, key: str, tmp_path: Path) -> None:
    """HLS playlists (binary enough to pass the text check) naming a file on the worker's disk
    and a loopback URL: neither is read, the job fails as unsupported, its error names no path."""
    import subprocess

    secret = tmp_path / "secret.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "mp2", "-f", "mpegts",
                    str(secret)], check=True)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    try:
        for target in (str(secret), f"http://127.0.0.1:{port}/a.ts"):
            playlist = (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{target}\n"
                        "#EXT-X-ENDLIST\n").encode() + b"\x00" * 64
            jid = submit(hostile, key, playlist, name="list.m3u8")
            rec = failed(hostile, key, jid)
            assert rec["error"]["code"] == "unsupported_media", rec["error"]
            assert "/" not in rec["error"]["message"].split(":", 1)[-1], rec["error"]  # no scratch path
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_ffmpeg_over_a_presigned_url_opens_nothing_else(tmp_path: Path) -> None:
    """The FER worker reads S3 objects through presigned http URLs: over http too, a playlist
    naming another URL is refused without that URL being asked for, the error names no URL, and
    a real video still decodes through the same whitelist."""
    import subprocess
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from shared.errors import UnsupportedMedia
    from workers.fer.video import frames

    video = tmp_path / "v.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=d=2:s=128x96:r=10", "-pix_fmt", "yuv420p",
                    str(video)], check=True)
    asked: list[str] = []

    class Objects(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            asked.append(self.path.split("?")[0])
            port = self.server.server_address[1]  # type: ignore[index]
            body = {"/list": (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\nhttp://127.0.0.1:{port}/inner.mp4\n"
                              "#EXT-X-ENDLIST\n").encode(),
                    "/inner.mp4": video.read_bytes(), "/v.mp4": video.read_bytes()}.get(asked[-1], b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Objects)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        got = list(frames(f"{base}/v.mp4?X-Amz-Signature=abc", [0.5, 1.5], 128, 96, 1.0, "mov,mp4,m4a,3gp,3g2,mj2"))
        assert [t for t, _ in got] == [0.5, 1.5] and got[0][1].shape == (96, 128, 3)
        with pytest.raises(UnsupportedMedia) as refused:
            list(frames(f"{base}/list?X-Amz-Signature=abc", [0.5], 128, 96, 1.0))
    finally:
        server.shutdown()
    assert "inner.mp4" not in asked and asked.count("/list") >= 1, asked
    assert "http" not in str(refused.value) and "X-Amz" not in str(refused.value), refused.value


def test_websockets_are_capped_per_key_and_in_all(hostile: Stack, key: str, silent_wav: Path) -> None:
    """3 sockets a key, 5 in all: the 4th of one key and the 6th overall get too_many_sockets;
    closing one frees its slot."""
    import asyncio

    import websockets

    other, third = new_key(hostile, "other"), new_key(hostile, "third")
    mine = submit(hostile, key, silent_wav.read_bytes(), name="a.wav")  # stays unfinished: no stt
    theirs = submit(hostile, other, silent_wav.read_bytes(), name="b.wav")
    url = hostile.url.replace("http", "ws") + "/v1/jobs/{}/events"

    async def connect(k: str, job_id: str) -> Any:
        return await websockets.connect(url.format(job_id), subprotocols=["ethos", f"ethos.key.{k}"])  # type: ignore[list-item]

    async def refused(k: str, job_id: str) -> str:
        ws = await connect(k, job_id)
        first = json.loads(await ws.recv())
        await ws.close()
        assert first.get("code") == "too_many_sockets", f"socket granted: {first}"
        assert ws.close_code == 4429
        return first["message"]  # type: ignore[no-any-return]

    async def go() -> None:
        held = [await connect(key, mine) for _ in range(3)]
        for ws in held:  # each is streaming: its first event replayed
            assert "code" not in json.loads(await ws.recv())
        assert "MAX_WEBSOCKETS_PER_KEY" in await refused(key, mine)
        held += [await connect(other, theirs) for _ in range(2)]
        assert "limit of 5" in await refused(third, theirs)
        await held.pop(0).close()  # the server notices within its 1-s read: the slot is free
        for _ in range(50):
            ws = await connect(key, mine)
            if "code" not in json.loads(await ws.recv()):
                break
            await ws.close()
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the closed socket's slot was never given back")
        held.append(ws)
        for ws in held:
            await ws.close()

    asyncio.run(go())


def _part(name: str, data: bytes, filename: str | None = None, extra: int = 0) -> bytes:
    disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    pad = "".join(f"X-Pad-{i}: p\r\n" for i in range(extra))
    return f"--{B}\r\nContent-Disposition: {disp}\r\n{pad}\r\n".encode() + data + b"\r\n"


@pytest.mark.parametrize("what, parts, status", [
    ("a large other file part", [_part("junk", b"\1" * (2 * UPLOAD_LIMIT), "junk.bin")], 413),
    ("a thousand small fields", [_part(f"f{i}", b"x") for i in range(1000)], 400),
    ("a hundred headers in a part", [_part("language", b"en", extra=100)], 400),
])
def test_multipart_is_bounded_whatever_the_part(hostile: Stack, key: str, silent_wav: Path, what: str,
                                                parts: list[bytes], status: int) -> None:
    """Every byte of the body counts against the upload limit, chunked or not; parts and headers
    per part are bounded; nothing is stored."""
    body = b"".join(parts) + _part("file", silent_wav.read_bytes(), "a.wav") + f"--{B}--\r\n".encode()

    def chunked() -> Iterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    before = len(list(Path(hostile.env["ETHOS_STORAGE__LOCAL_ROOT"]).rglob("input")))
    with httpx.Client(base_url=hostile.url, timeout=30) as c:
        for content in (body, chunked()):
            r = c.post("/v1/jobs", content=content,
                       headers={**h(key), "Content-Type": f"multipart/form-data; boundary={B}"})
            assert r.status_code == status, (what, r.text)
    assert len(list(Path(hostile.env["ETHOS_STORAGE__LOCAL_ROOT"]).rglob("input"))) == before


def test_open_gateway_answers_only_loopback_names(hostile: Stack) -> None:
    """DNS rebinding against ``make run``: an open gateway refuses another Host (400), answers
    its loopback names; the allowed names are a setting."""
    url = extra_gateway(hostile, ETHOS_AUTH__REQUIRED="false")
    port = url.rsplit(":", 1)[1]
    with httpx.Client(base_url=url, timeout=10) as c:
        for host in ("rebound.example", f"rebound.example:{port}", "127.0.0.1.evil.example"):
            r = c.get("/v1/jobs", headers={"Host": host})
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_host", host
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
            assert c.get("/v1/jobs", headers={"Host": host}).status_code == 200, host
    url = extra_gateway(hostile, ETHOS_AUTH__REQUIRED="false", ETHOS_GATEWAY__ALLOWED_HOSTS='["ethos.lan", "127.0.0.1"]')
    assert httpx.get(url + "/v1/jobs", headers={"Host": "ethos.lan"}).status_code == 200
    assert httpx.get(url + "/v1/jobs", headers={"Host": "localhost"}).status_code == 400
    # the keyed gateway is guarded by its keys, whatever the Host
    assert httpx.get(hostile.url + "/v1/jobs", headers={"Host": "rebound.example"}).status_code == 401


def test_odd_ids_and_ranges_are_client_errors(hostile: Stack, key: str) -> None:
    """A job id with a Redis key's suffix is 404 (not 503); a 5,000-digit Range is 416."""
    jid = submit(hostile, key, os.urandom(5000))
    with httpx.Client(base_url=hostile.url, headers=h(key), timeout=30) as c:
        for odd in (f"{jid}:events", f"{jid}:deliveries", "job_x", f"{jid}x"):
            for path in (f"/v1/jobs/{odd}", f"/v1/jobs/{odd}/events", f"/api/job/{odd}"):
                r = c.get(path)
                assert r.status_code == 404, (path, r.status_code, r.text)
        for rng in ("bytes=" + "9" * 5000 + "-", "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 5000):
            r = c.get(f"/v1/jobs/{jid}/media", headers={"Range": rng})
            assert r.status_code == 416, (rng[:20], r.status_code)
        assert c.get(f"/v1/jobs/{jid}/media", headers={"Range": "bytes=0-9"}).status_code == 206


def test_what_a_keyless_caller_still_sees(hostile: Stack, key: str) -> None:
    """/metrics needs the key; /readyz gives a stranger states only; no CDN-loaded /docs on the
    key-holding origin; the Studio page carries a CSP and may not be framed."""
    with httpx.Client(base_url=hostile.url, timeout=30) as c:
        assert c.get("/metrics").status_code == 401
        assert "ethos_jobs_submitted_total" in c.get("/metrics", headers=h(key)).text
        stranger = c.get("/readyz").json()["dependencies"]
        assert all(set(d) == {"state"} for d in stranger.values()), stranger
        assert "workers" in c.get("/readyz", headers=h(key)).json()["dependencies"]["workers.cpu"]
        assert c.get("/docs").status_code == 404 and c.get("/redoc").status_code == 404
        assert c.get("/openapi.json").status_code == 200
        page = c.get("/")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"


def test_csv_cells_never_become_formulas() -> None:
    """A transcript line a spreadsheet would run (``=HYPERLINK(…)``) is exported as text."""
    from shared.exports import faces_to_csv, to_csv

    seg = {"start": 0.0, "end": 1.0, "text": '=HYPERLINK("http://x.example","hi")', "emotion": "+1",
           "valence": -0.5, "arousal": 0.1, "speaker": "SPEAKER_00"}
    result = {"segments": [seg], "speakers": [{"id": "SPEAKER_00", "name": "@admin"}]}
    rows = to_csv(result).splitlines()[1]
    assert "'=HYPERLINK" in rows and ",'+1," in rows and "'@admin" in rows and ",-0.5," in rows
    faces = faces_to_csv({"face_emotion_timeline": {"0": "-cmd"}, "face_scores": {}})
    assert "'-cmd" in faces


def test_redis_password_is_not_logged() -> None:
    from shared.logs import redacted

    assert redacted("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redacted("rediss://user:s3cret@host/1") == "rediss://user:***@host/1"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_one_failing_deletion_does_not_stop_retention(redis_server: Any, tmp_path: Path) -> None:
    """Retention over a real Redis: the job whose objects cannot be deleted is kept for the next
    sweep (and logged); the others are removed."""
    from shared.jobs import JobStore, connect, new_job_id, utcnow
    from shared.schemas import JobRecord, JobStatus, MediaInfo
    from shared.storage.local import LocalStorage
    from workers.upkeep import expire_old

    store = JobStore(connect(redis_server.url), prefix=f"t{new_job_id()}")
    ids = [new_job_id() for _ in range(3)]
    for job_id in ids:
        store.create(JobRecord(id=job_id, status=JobStatus.succeeded, stage="done", created_at=utcnow(),
                               media=MediaInfo(filename="a.wav"), media_key=f"jobs/{job_id}/input"))

    class Flaky(LocalStorage):
        def delete_prefix(self, prefix: str) -> None:
            if ids[1] in prefix:
                raise OSError("permission denied")
            super().delete_prefix(prefix)

    gone = expire_old(store, Flaky(tmp_path), period_s=0, now=time.time() + 10)
    assert sorted(gone) == sorted([ids[0], ids[2]])
    assert store.get(ids[1]) is not None and store.get(ids[0]) is None


def test_result_versions_are_bounded(hostile: Stack, key: str) -> None:
    """Corrections stop at ETHOS_LIMITS__MAX_RESULT_VERSIONS (3 here): 409 too_many_versions."""
    from shared import objects
    from shared.jobs import JobStore, connect, new_job_id, utcnow
    from shared.schemas import JobRecord, JobStatus, MediaInfo
    from shared.storage.local import LocalStorage

    job_id, now = new_job_id(), utcnow()
    result = {"job_id": job_id, "filename": "a.wav", "duration": 1.0, "language": "en", "text": "",
              "segments": [], "has_video": False, "models": {}, "timings": {}, "created_at": now,
              "finished_at": now}
    LocalStorage(Path(hostile.env["ETHOS_STORAGE__LOCAL_ROOT"])).put_bytes(objects.result(job_id),
                                                                           json.dumps(result).encode())
    store = JobStore(connect(hostile.env["ETHOS_REDIS__URL"]))
    store.create(JobRecord(id=job_id, status=JobStatus.queued, stage="queued", created_at=now,
                           media=MediaInfo(filename="a.wav"), media_key=objects.upload(job_id, ""),
                           owner=key.split("_")[1]))
    assert store.start(job_id, "probing") and store.succeed(job_id, objects.result(job_id))
    codes = []
    with httpx.Client(base_url=hostile.url, headers=h(key), timeout=30) as c:
        for _ in range(4):
            r = c.put(f"/v1/jobs/{job_id}/result", json={"segments": []}, headers={"If-Match": "*"})
            codes.append(r.status_code)
    assert codes == [200, 200, 409, 409] and r.json()["error"]["code"] == "too_many_versions"


def test_cli_takes_the_key_from_a_file_or_the_environment(hostile: Stack, key: str, tmp_path: Path) -> None:
    """``ethos --api-key-file`` / ETHOS_API_KEY_FILE / ETHOS_API_KEY: the key never on the command line."""
    import subprocess
    import sys

    from ethos_testing.procs import ROOT

    keyfile = tmp_path / "key"
    keyfile.write_text(key + "\n")
    keyfile.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETHOS_API_KEY")}
    for extra_args, extra_env in ((["--api-key-file", str(keyfile)], {}), ([], {"ETHOS_API_KEY_FILE": str(keyfile)}),
                                  ([], {"ETHOS_API_KEY": key}), ([], {})):
        out = subprocess.run([sys.executable, "-m", "ethos_client.cli", "--url", hostile.url, *extra_args, "jobs"],
                             cwd=ROOT, capture_output=True, text=True, env={**env, **extra_env}, timeout=60)
        assert out.returncode == (0 if extra_args or extra_env else 1), (extra_args, extra_env, out.stderr)


def test_rate_limit_holds_under_parallel_requests(redis_server: Any) -> None:
    """80 requests of one key at the same instant against a limit of 20 a minute, on a real
    Redis: exactly 20 pass, every round (the check and the count are one Lua script; the
    check-then-count it replaces let 21 to 43 through here)."""
    import redis

    from shared.jobs import new_job_id
    from shared.keys import KeyStore

    for _ in range(3):
        prefix, passed = f"race{new_job_id()}", []
        start = threading.Barrier(80)

        def one() -> None:
            ks = KeyStore(redis.Redis.from_url(redis_server.url, decode_responses=True), prefix=prefix)  # noqa: B023
            start.wait()  # noqa: B023
            passed.append(ks.hit("k1", 20, now=1000.0) == 0)  # noqa: B023

        threads = [threading.Thread(target=one) for _ in range(80)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(passed) == 20


def test_unfinished_jobs_limit_holds_under_parallel_uploads(hostile: Stack, silent_wav: Path) -> None:
    """24 uploads of one key at once against a limit of 3 unfinished jobs: exactly 3 are
    accepted, the rest get 429 ``too_many_jobs`` (the slot is reserved in one Lua script before
    the body is read; the count-then-record it replaces let several more through). Its jobs go
    to a Redis database no worker reads, so they stay unfinished."""
    db = hostile.env["ETHOS_REDIS__URL"].rsplit("/", 1)[0] + "/5"
    url = extra_gateway(hostile, ETHOS_AUTH__MAX_ACTIVE_JOBS="3", ETHOS_REDIS__URL=db)
    limited = Stack(env={**hostile.env, "ETHOS_REDIS__URL": db}, logs=hostile.logs)
    tenant = new_key(limited, "racer")
    audio = silent_wav.read_bytes()
    start = threading.Barrier(24)
    codes: list[tuple[int, str]] = []

    def one() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            start.wait()
            r = c.post("/v1/jobs", files={"file": ("a.wav", audio, "audio/wav")}, headers=h(tenant))
            codes.append((r.status_code, r.json().get("error", {}).get("code", "") if r.status_code != 202 else ""))

    threads = [threading.Thread(target=one) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = sum(code == 202 for code, _ in codes)
    assert sorted(codes) == [(202, "")] * 3 + [(429, "too_many_jobs")] * 21, f"{accepted} accepted: {codes}"
    with httpx.Client(base_url=url, timeout=30) as c:  # the refused ones left no job behind
        assert len(c.get("/v1/jobs", headers=h(tenant)).json()["jobs"]) == 3
