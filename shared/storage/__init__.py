"""Object storage behind one small interface: local disk (``local``) or S3/MinIO (``s3``)."""

from __future__ import annotations

from shared.settings import StorageSettings
from shared.storage.base import (
    ObjectNotFound,
    Storage,
    StorageError,
    StorageUnavailable,
    Writer,
    check_key,
)


def make_storage(cfg: StorageSettings) -> Storage:
    """The configured backend (the S3 SDK is imported only when it is used)."""
    if cfg.backend == "s3":
        from shared.storage.s3 import S3Storage

        return S3Storage(cfg)
    from shared.storage.local import LocalStorage

    return LocalStorage(cfg.local_root)


__all__ = ["ObjectNotFound", "Storage", "StorageError", "StorageUnavailable", "Writer",
           "check_key", "make_storage"]
