"""Objects in an S3-compatible bucket through the ``minio`` SDK (MinIO in compose, any S3)."""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.settings import StorageSettings
from shared.storage.base import (
    ObjectNotFound,
    Storage,
    StorageError,
    StorageUnavailable,
    Writer,
    check_key,
)


class _Pipe(io.RawIOBase):
    """A blocking file-like bridge: the caller's chunks feed ``put_object`` in a thread."""

    def __init__(self, depth: int = 4) -> None:
        self._q: queue.Queue[bytes | None | BaseException] = queue.Queue(maxsize=depth)
        self._buf = b""
        self._eof = False

    def feed(self, chunk: bytes | None | BaseException) -> None:
        self._q.put(chunk)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        parts = [self._buf] if self._buf else []
        have = len(self._buf)
        while not self._eof and (size < 0 or have < size):
            item = self._q.get()
            if item is None:
                self._eof = True
            elif isinstance(item, BaseException):
                raise item
            else:
                parts.append(item)
                have += len(item)
        data = b"".join(parts)
        if size < 0 or len(data) <= size:
            self._buf = b""
            return data
        self._buf = data[size:]
        return data[:size]


class _Aborted(Exception):
    pass


class _S3Writer(Writer):
    def __init__(self, store: S3Storage, key: str, content_type: str) -> None:
        self._store = store
        self._key = key
        self._pipe = _Pipe()
        self._error: BaseException | None = None
        self.bytes_written = 0
        self._thread = threading.Thread(target=self._run, args=(content_type,), daemon=True)
        self._thread.start()

    def _run(self, content_type: str) -> None:
        try:
            self._store.client.put_object(
                self._store.bucket,
                self._key,
                self._pipe,  # type: ignore[arg-type]
                length=-1,
                part_size=self._store.part_size,
                content_type=content_type,
            )
        except BaseException as e:  # reported to the writing side
            self._error = e

    def _check(self) -> None:
        if self._error is not None and not isinstance(self._error, _Aborted):
            raise self._store.wrap(self._error)

    def write(self, chunk: bytes) -> None:
        self._check()
        if not self._thread.is_alive():
            raise StorageError("upload thread ended early")
        self._pipe.feed(chunk)
        self.bytes_written += len(chunk)

    def commit(self) -> int:
        self._pipe.feed(None)
        self._thread.join()
        self._check()
        return self.bytes_written

    def abort(self) -> None:
        if self._thread.is_alive():
            self._pipe.feed(_Aborted())
            self._thread.join(timeout=30)
        with contextlib.suppress(Exception):  # best effort cleanup
            self._store.client.remove_object(self._store.bucket, self._key)


class S3Storage(Storage):
    """Objects in an S3-compatible bucket (MinIO in compose, any S3 elsewhere)."""

    name = "s3"

    def __init__(self, cfg: StorageSettings) -> None:
        import urllib3
        from minio import Minio

        endpoint = cfg.s3_endpoint
        secure = cfg.s3_secure
        if "://" in endpoint:
            scheme, endpoint = endpoint.split("://", 1)
            secure = scheme == "https"
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=60.0),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            maxsize=16,
        )
        self.client = Minio(
            endpoint,
            access_key=cfg.s3_access_key,
            secret_key=cfg.s3_secret_key.get_secret_value(),
            secure=secure,
            region=cfg.s3_region,
            http_client=http,
        )
        self.bucket = cfg.s3_bucket
        self.endpoint = endpoint
        self.part_size = cfg.part_size
        self._bucket_ready = False

    def wrap(self, e: BaseException) -> StorageError:
        from minio.error import S3Error

        if isinstance(e, StorageError):
            return e
        if isinstance(e, S3Error):
            if e.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject"):
                return ObjectNotFound(str(e))
            return StorageError(f"S3 error {e.code}: {e.message}")
        return StorageUnavailable(f"S3 storage at {self.endpoint} unreachable: {e}")

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise self.wrap(e) from e

    def ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        if not self._call(self.client.bucket_exists, self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except Exception as e:  # another process may have won the race
                if not self._call(self.client.bucket_exists, self.bucket):
                    raise self.wrap(e) from e
        self._bucket_ready = True

    def open_writer(self, key: str, content_type: str = "application/octet-stream") -> Writer:
        self.ensure_bucket()
        return _S3Writer(self, check_key(key), content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        self.ensure_bucket()
        self._call(
            self.client.put_object, self.bucket, check_key(key), io.BytesIO(data), len(data),
            content_type=content_type,
        )

    def get_bytes(self, key: str) -> bytes:
        resp = self._call(self.client.get_object, self.bucket, check_key(key))
        try:
            return bytes(resp.read())
        finally:
            resp.close()
            resp.release_conn()

    def upload_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        self.ensure_bucket()
        self._call(
            self.client.fput_object, self.bucket, check_key(key), str(path),
            content_type=content_type, part_size=self.part_size,
        )

    def download_file(self, key: str, path: Path) -> None:
        self._call(self.client.fget_object, self.bucket, check_key(key), str(path))

    def size(self, key: str) -> int:
        stat = self._call(self.client.stat_object, self.bucket, check_key(key))
        return int(stat.size)

    def iter_range(self, key: str, start: int, end: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
        resp = self._call(
            self.client.get_object, self.bucket, check_key(key), offset=start, length=end - start + 1
        )
        try:
            yield from resp.stream(chunk)
        finally:
            resp.close()
            resp.release_conn()

    def delete_prefix(self, prefix: str) -> int:
        from minio.deleteobjects import DeleteObject

        prefix = check_key(prefix.rstrip("/")) + "/"
        names = [o.object_name for o in self._call(
            lambda: list(self.client.list_objects(self.bucket, prefix=prefix, recursive=True))
        )]
        if names:
            errors = list(self.client.remove_objects(self.bucket, (DeleteObject(n) for n in names)))
            if errors:
                raise StorageError(f"could not delete {len(errors)} objects under {prefix}")
        return len(names)

    def ping(self) -> None:
        self.ensure_bucket()

    def presigned_url(self, key: str, expires_s: int = 3600) -> str:
        from datetime import timedelta

        return str(self._call(self.client.presigned_get_object, self.bucket, check_key(key),
                              expires=timedelta(seconds=expires_s)))
