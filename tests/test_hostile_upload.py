"""Malformed multipart bodies and hostile file names against a real gateway: a clear 4xx,
nothing stored, nothing recorded; odd but valid names are accepted as display text only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ethos_testing.procs import Stack, private_stack

B = "XyZ0boundary"
CTYPE = {"content-type": f"multipart/form-data; boundary={B}"}


def part(name: str, filename: bytes | None, data: bytes) -> bytes:
    disp = f'form-data; name="{name}"'.encode()
    if filename is not None:
        disp += b'; filename="' + filename + b'"'
    return (f"--{B}\r\n".encode() + b"Content-Disposition: " + disp + b"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{B}--\r\n".encode()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway on a private Redis and local storage (no workers: jobs stay queued)."""
    with private_stack(tmp_path_factory.mktemp("hostile")) as st:
        st.gateway()
        yield st


def stored(st: Stack) -> list[Path]:
    root = Path(st.env["ETHOS_STORAGE__LOCAL_ROOT"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def job_count(st: Stack) -> int:
    return len(httpx.get(st.url + "/v1/jobs?limit=200").json()["jobs"])


@pytest.mark.parametrize("what, raw, headers, code", [
    ("100,000-character file name", body(part("file", b"a" * 100_000 + b".wav", b"RIFF" + b"\0" * 5000)),
     CTYPE, "invalid_multipart"),
    ("over-long other header", f"--{B}\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: {'p' * 40_000}"
     f"\r\n\r\ndata\r\n--{B}--\r\n".encode(), CTYPE, "invalid_multipart"),
    ("no boundary parameter", body(part("file", b"a.wav", b"RIFF" * 100)),
     {"content-type": "multipart/form-data"}, "invalid_request"),
    ("not multipart at all", b"RIFF" * 100, {"content-type": "audio/wav"}, "invalid_request"),
    ("body does not start with the boundary", b"garbage garbage garbage\r\n" * 10, CTYPE, "invalid_multipart"),
    ("truncated inside the file part", body(part("file", b"a.wav", b"RIFF" + b"\1" * 20_000))[:9000],
     CTYPE, "invalid_multipart"),
    ("truncated inside the part headers", f"--{B}\r\nContent-Disposition: form-da".encode(), CTYPE,
     "invalid_multipart"),
    ("no file part", body(part("language", None, b"en")), CTYPE, "missing_file"),
    ("empty file", body(part("file", b"a.wav", b"")), CTYPE, "empty_file"),
    ("over-long form field", body(part("language", None, b"e" * 10_000), part("file", b"a.wav", b"RIFF" * 10)),
     CTYPE, "invalid_request"),
])
def test_malformed_multipart_is_400_and_leaves_nothing(gw: Stack, what: str, raw: bytes,
                                                        headers: dict[str, str], code: str) -> None:
    before = job_count(gw)
    r = httpx.post(gw.url + "/v1/jobs", content=raw, headers=headers, timeout=30)
    assert r.status_code == 400, (what, r.status_code, r.text)
    assert r.json()["error"]["code"] == code, what
    assert r.json()["error"]["message"]
    assert stored(gw) == [] or job_count(gw) == before  # nothing half-made was kept
    assert job_count(gw) == before
    # the compatibility endpoints refuse alike, in their own shape
    r = httpx.post(gw.url + "/transcribe", content=raw, headers=headers, timeout=30)
    assert r.status_code == 400 and r.json()["detail"], what


def test_hostile_names_are_display_text_only(gw: Stack, silent_wav: Path) -> None:
    wav = silent_wav.read_bytes()
    names = {
        "10,000 characters": b"n" * 10_000 + b".wav",
        "not UTF-8": b"caf\xe9 \xff\xfe.wav",
        "path traversal": b"../../../etc/passwd.wav",
        "control characters": b"a\x01b\x1bc.wav",
    }
    for what, name in names.items():
        r = httpx.post(gw.url + "/v1/jobs", content=body(part("file", name, wav)), headers=CTYPE, timeout=30)
        assert r.status_code == 202, (what, r.text)
        job = httpx.get(gw.url + f"/v1/jobs/{r.json()['id']}").json()
        shown = job["media"]["filename"]
        assert 0 < len(shown) <= 200 and "/" not in shown and not any(ord(ch) < 32 for ch in shown), what
        assert shown.endswith(".wav"), (what, shown)
        media = httpx.get(gw.url + f"/v1/jobs/{r.json()['id']}/media")
        assert media.status_code == 200 and media.content == wav
    root = Path(gw.env["ETHOS_STORAGE__LOCAL_ROOT"]).resolve()
    for f in stored(gw):  # every object under jobs/<id>/, none outside the storage root
        rel = f.resolve().relative_to(root)
        assert rel.parts[0] == "jobs" and rel.parts[1].startswith("job_") and rel.name.startswith("input")
