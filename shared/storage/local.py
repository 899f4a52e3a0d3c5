"""Objects as files under a root folder: the embedded default."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from shared.storage.base import ObjectNotFound, Storage, StorageUnavailable, Writer, check_key


class _LocalWriter(Writer):
    def __init__(self, final: Path) -> None:
        self._final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.partial")
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        self.bytes_written = 0

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self.bytes_written += len(chunk)

    def commit(self) -> int:
        self._fh.close()
        os.replace(self._tmp, self._final)
        return self.bytes_written

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


class LocalStorage(Storage):
    """Objects as files under one root folder (the embedded default)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def open_writer(self, key: str, content_type: str = "application/octet-stream") -> Writer:
        return _LocalWriter(self._path(key))

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        w = self.open_writer(key)
        w.write(data)
        w.commit()

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as e:
            raise ObjectNotFound(key) from e

    def upload_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)

    def download_file(self, key: str, path: Path) -> None:
        try:
            shutil.copyfile(self._path(key), path)
        except FileNotFoundError as e:
            raise ObjectNotFound(key) from e

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as e:
            raise ObjectNotFound(key) from e

    def iter_range(self, key: str, start: int, end: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
        try:
            fh = open(self._path(key), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as e:
            raise ObjectNotFound(key) from e
        with fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0:
                data = fh.read(min(chunk, left))
                if not data:
                    break
                left -= len(data)
                yield data

    def delete_prefix(self, prefix: str) -> int:
        target = self._path(prefix.rstrip("/"))
        if not target.exists():
            return 0
        if target.is_file():
            target.unlink()
            return 1
        count = sum(1 for p in target.rglob("*") if p.is_file())
        shutil.rmtree(target, ignore_errors=True)
        return count

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageUnavailable(f"storage folder {self.root} is not writable")

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
