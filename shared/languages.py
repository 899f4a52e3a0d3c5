"""The ``language`` of a job: normalised, and checked against what the deployed engines accept.

Rules (README, "Languages"):
- a code is normalised to its primary subtag in lower case: ``en-US``, ``EN``, ``en_gb`` → ``en``;
- it must then be an ISO 639-1 two-letter code (every engine here takes those: Voxtral's
  tokenizer accepts nothing else; ``auto`` is not a code);
- each STT worker announces its engine's codes in its heartbeat (``languages``; ``null`` means
  any language). A job may land on any STT worker, so a code must be accepted by every one
  that has announced; when none has announced yet, any two-letter code is accepted (the
  gateway never imports the engines to guess).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_TWO_LETTERS = re.compile(r"^[a-z]{2}$")
_SUBTAG = re.compile(r"[-_]")


class LanguageRejected(ValueError):
    """The requested language cannot be transcribed here; ``message`` says what can."""

    code = "unsupported_language"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Supported:
    """The codes the deployed engines accept; ``codes`` None means any two-letter code."""

    codes: tuple[str, ...] | None
    announced: bool  # False: no STT worker has said yet


def normalise(raw: str) -> str:
    """The primary subtag in lower case (``en-US`` → ``en``)."""
    return _SUBTAG.split(raw.strip(), maxsplit=1)[0].lower()


def from_heartbeats(infos: Iterable[dict[str, Any]]) -> Supported:
    """What the live STT workers can all do, from their heartbeats (``info["stt"]``)."""
    common: set[str] | None = None
    announced = False
    for info in infos:
        stt = info.get("stt")
        if "stt" not in info.get("queues", []) or not isinstance(stt, dict) or "languages" not in stt:
            continue
        announced = True
        codes = stt["languages"]
        if codes is None:
            continue
        common = set(codes) if common is None else common & set(codes)
    return Supported(tuple(sorted(common)) if common is not None else None, announced)


def resolve(raw: str, supported: Supported) -> str:
    """The normalised code, or LanguageRejected naming the codes that would work."""
    code = normalise(raw)
    if not _TWO_LETTERS.match(code):
        where = f"one of: {', '.join(supported.codes)}" if supported.codes is not None else "e.g. en, fr, de"
        raise LanguageRejected(f"language {raw!r} is not an ISO 639-1 two-letter code; use {where}")
    if supported.codes is not None and code not in supported.codes:
        raise LanguageRejected(
            f"language {raw!r} is not supported by the deployed speech engine; supported: "
            f"{', '.join(supported.codes)}"
        )
    return code
