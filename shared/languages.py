"""The ``language`` of a job: normalised, and checked against what the deployed engines accept.

Rules (README, "Languages"):
- a code is normalised to its primary subtag in lower case: ``en-US``, ``EN``, ``en_gb`` → ``en``;
- it must then be an ISO 639-1 two-letter code (every engine here takes those: Voxtral's
  tokenizer accepts nothing else; ``auto`` is not a code);
- each STT worker announces its engine's codes in its heartbeat (``languages``; ``null`` means
  any language). A job may land on any STT worker, so a code must be accepted by every one
  that has announced; when none has announced yet, any two-letter code is accepted (the
  gateway never imports the engines to guess);
- ``auto`` (or no language at all) means "detect it": accepted when every announcing worker
  ``detects``; a job without a language where some worker cannot detect falls back to ``en``;
- ``task`` is ``transcribe`` (default) or ``translate`` (English text), the latter accepted
  when every announcing worker lists it in ``tasks``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_TWO_LETTERS = re.compile(r"^[a-z]{2}$")
AUTO = "auto"
TASKS = ("transcribe", "translate")
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
    detects: bool = True  # every announcing worker detects the language ("auto")
    tasks: tuple[str, ...] = TASKS  # the tasks every announcing worker can do


class TaskRejected(LanguageRejected):
    code = "unsupported_task"


def normalise(raw: str) -> str:
    """The primary subtag in lower case (``en-US`` → ``en``)."""
    return _SUBTAG.split(raw.strip(), maxsplit=1)[0].lower()


def from_heartbeats(infos: Iterable[dict[str, Any]]) -> Supported:
    """What the live STT workers can all do, from their heartbeats (``info["stt"]``)."""
    common: set[str] | None = None
    announced, detects, tasks = False, True, set(TASKS)
    for info in infos:
        stt = info.get("stt")
        if "stt" not in info.get("queues", []) or not isinstance(stt, dict) or "languages" not in stt:
            continue
        announced = True
        # Workers from before detection and translation existed announce neither.
        detects = detects and bool(stt.get("detects", False))
        tasks &= set(stt.get("tasks") or ["transcribe"])
        codes = stt["languages"]
        if codes is None:
            continue
        common = set(codes) if common is None else common & set(codes)
    return Supported(tuple(sorted(common)) if common is not None else None, announced, detects,
                     tuple(t for t in TASKS if t in tasks))


def engines(infos: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each announced STT engine (by name) with its languages, detection and tasks."""
    out: dict[str, dict[str, Any]] = {}
    for info in infos:
        stt = info.get("stt")
        if "stt" in info.get("queues", []) and isinstance(stt, dict) and "languages" in stt:
            out[str(stt.get("engine", "?"))] = {"languages": stt["languages"],
                                                "detects": bool(stt.get("detects", False)),
                                                "tasks": list(stt.get("tasks") or ["transcribe"])}
    return out


def default_language(supported: Supported) -> str:
    """A job's language when the caller gives none: detected where every engine can."""
    return AUTO if supported.detects else "en"


def resolve_task(raw: str | None, supported: Supported) -> str:
    """``transcribe`` (default) or ``translate``, or TaskRejected saying what is possible."""
    task = (raw or "transcribe").strip().lower()
    if task not in TASKS:
        raise TaskRejected(f"task {raw!r} is not one of: {', '.join(TASKS)}")
    if task not in supported.tasks:
        raise TaskRejected(f"task {task!r} is not supported by the deployed speech engine; supported: "
                           f"{', '.join(supported.tasks)}")
    return task


def resolve(raw: str, supported: Supported) -> str:
    """The normalised code, or LanguageRejected naming the codes that would work."""
    code = normalise(raw)
    if code == AUTO:
        if not supported.detects:
            where = f"one of: {', '.join(supported.codes)}" if supported.codes is not None else "e.g. en"
            raise LanguageRejected(f"the deployed speech engine does not detect the language; name it: {where}")
        return AUTO
    if not _TWO_LETTERS.match(code):
        where = f"one of: {', '.join(supported.codes)}" if supported.codes is not None else "e.g. en, fr, de"
        raise LanguageRejected(f"language {raw!r} is not an ISO 639-1 two-letter code; use {where}")
    if supported.codes is not None and code not in supported.codes:
        raise LanguageRejected(
            f"language {raw!r} is not supported by the deployed speech engine; supported: "
            f"{', '.join(supported.codes)}"
        )
    return code
