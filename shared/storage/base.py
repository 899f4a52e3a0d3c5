"""The storage interface every backend implements, and its errors.

Uploads are written through a :class:`Writer` chunk by chunk, so no caller ever holds a
whole file in memory.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")



class StorageError(Exception):
    """Storage failed for a reason other than a missing object."""


class StorageUnavailable(StorageError):
    """The storage service cannot be reached."""


class ObjectNotFound(StorageError):
    """No object under that key."""


def check_key(key: str) -> str:
    """Keys are built by us; refuse anything that could escape the store."""
    if not _KEY_RE.match(key) or ".." in key.split("/"):
        raise ValueError(f"unsafe storage key: {key!r}")
    return key


class Writer(ABC):
    """A streamed write: ``write`` chunks, then ``commit`` or ``abort``."""

    bytes_written = 0

    @abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def commit(self) -> int: ...

    @abstractmethod
    def abort(self) -> None: ...


class Storage(ABC):
    """What the gateway and workers need from object storage."""

    name: str

    @abstractmethod
    def open_writer(self, key: str, content_type: str = "application/octet-stream") -> Writer: ...

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/json") -> None: ...

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def upload_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None: ...

    @abstractmethod
    def download_file(self, key: str, path: Path) -> None: ...

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes; raises ObjectNotFound."""

    @abstractmethod
    def iter_range(self, key: str, start: int, end: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
        """Bytes ``start..end`` inclusive, in chunks."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int: ...

    @abstractmethod
    def ping(self) -> None:
        """Raise StorageUnavailable unless the store answers."""

    def local_path(self, key: str) -> Path | None:
        """A path a local process can read directly, when the backend has one."""
        return None

    def presigned_url(self, key: str, expires_s: int = 3600) -> str:
        """A URL a local process (ffmpeg) can read with range requests."""
        raise NotImplementedError(f"{self.name} storage has no URLs; use local_path")

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True
