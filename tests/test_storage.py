"""Both storage backends against real servers: local disk and S3 (moto's server mode)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import StorageSettings
from shared.storage import ObjectNotFound, Storage, StorageUnavailable, check_key
from shared.storage.local import LocalStorage
from shared.storage.s3 import S3Storage


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str) -> Iterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "root")
    else:
        yield S3Storage(StorageSettings(
            backend="s3", s3_endpoint=s3_endpoint, s3_access_key="testing",
            s3_secret_key="testing", s3_bucket=f"t-{os.urandom(4).hex()}", s3_region="us-east-1",
        ))


def test_streamed_multipart_write_and_ranges(store: Storage, tmp_path: Path) -> None:
    data = os.urandom(12 * 1024 * 1024 + 123)  # over one 8 MiB part
    w = store.open_writer("jobs/a/input.bin")
    for i in range(0, len(data), 1024 * 1024):
        w.write(data[i:i + 1024 * 1024])
    assert w.commit() == len(data)
    assert store.size("jobs/a/input.bin") == len(data)
    assert b"".join(store.iter_range("jobs/a/input.bin", 5, 5_000_004)) == data[5:5_000_005]
    out = tmp_path / "copy"
    store.download_file("jobs/a/input.bin", out)
    assert out.read_bytes() == data


def test_abort_leaves_nothing(store: Storage) -> None:
    w = store.open_writer("jobs/b/input.bin")
    w.write(b"x" * 1000)
    w.abort()
    assert not store.exists("jobs/b/input.bin")


def test_bytes_files_and_prefix_delete(store: Storage, tmp_path: Path) -> None:
    store.put_bytes("jobs/c/result.json", b"{}")
    src = tmp_path / "f.wav"
    src.write_bytes(b"RIFF....")
    store.upload_file("jobs/c/audio.wav", src)
    assert store.get_bytes("jobs/c/result.json") == b"{}"
    assert store.delete_prefix("jobs/c") == 2
    with pytest.raises(ObjectNotFound):
        store.get_bytes("jobs/c/result.json")
    with pytest.raises(ObjectNotFound):
        store.size("jobs/c/audio.wav")
    assert store.delete_prefix("jobs/none") == 0


@pytest.mark.parametrize("key", ["../x", "a/../../b", "/abs", "a//b", "a/\x00", ""])
def test_unsafe_keys_refused(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


def test_s3_down_raises_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    st = S3Storage(StorageSettings(backend="s3", s3_endpoint=f"127.0.0.1:{port}", s3_bucket="x"))
    with pytest.raises(StorageUnavailable):
        st.ping()
