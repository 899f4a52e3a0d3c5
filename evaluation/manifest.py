"""An evaluation set: a JSONL manifest of clips with reference transcripts.

One JSON object per line:

- ``id`` (optional; default the line number), ``reference``: the spoken text with inline
  ``[tags]``; optional ``emotion`` (the expected speech-emotion label), ``speakers``
  (the number of speakers), ``language`` (the language spoken, ISO 639-1: checked against
  the detected one when jobs are sent with ``--language auto``), ``source`` and ``licence``
  (where a committed recording comes from), and ``turns`` (the reference speaker turns,
  ``[{"speaker", "start", "end"}]`` in seconds: the clip is then scored for DER);
- the audio, either ``audio``: a path relative to the manifest's folder, an absolute path, or
  ``media:<name>`` (a file in the media folder: ``--media``, else ``$ETHOS_MEDIA``, else
  ``../shared/media`` beside the project); or ``tts``: ``{"voice", "rate"}``, a clip that
  ``espeak-ng`` makes from the reference when the set is prepared, each ``[pause]`` becoming
  1.2 s of silence (other tags cannot be synthesised, so such sets leave them out).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator

from evaluation.metrics import strip_tags

PROJECT = Path(__file__).resolve().parent.parent
PAUSE_S = 1.2


class ManifestError(ValueError):
    """The manifest or one of its clips cannot be used; the message says which and why."""


class Tts(BaseModel):
    voice: str = "en-us"
    rate: int = Field(160, ge=80, le=450)


class RefTurn(BaseModel):
    speaker: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)


class Clip(BaseModel):
    id: str
    reference: str
    audio: str | None = None
    tts: Tts | None = None
    emotion: str | None = None
    speakers: int | None = Field(None, ge=1)
    turns: list[RefTurn] | None = None
    language: str | None = None
    source: str | None = None
    licence: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Clip:
        if (self.audio is None) == (self.tts is None):
            raise ValueError("give exactly one of `audio` and `tts`")
        return self


def load(path: Path) -> list[Clip]:
    """The clips of a manifest, validated (ids unique)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ManifestError(f"cannot read the manifest {path}: {e.strerror or e}") from e
    clips: list[Clip] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise ManifestError(f"{path}:{n}: each line must be a JSON object")
            clips.append(Clip.model_validate({"id": str(n), **raw}))
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}:{n}: not JSON ({e.msg})") from e
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'clip'}: {err['msg']}" for err in e.errors())
            raise ManifestError(f"{path}:{n}: {problems}") from e
    if not clips:
        raise ManifestError(f"{path}: no clips")
    seen: set[str] = set()
    for c in clips:
        if c.id in seen:
            raise ManifestError(f"{path}: clip id {c.id!r} appears twice")
        seen.add(c.id)
    return clips


def media_folder(given: Path | None = None) -> Path:
    """Where ``media:`` names point: the argument, ``$ETHOS_MEDIA``, or ``../shared/media``."""
    if given is not None:
        return given
    env = os.environ.get("ETHOS_MEDIA")
    return Path(env) if env else PROJECT.parent / "shared" / "media"


def resolve(clip: Clip, manifest: Path, media: Path | None, work: Path) -> Path:
    """The audio file of a clip, synthesising it into ``work`` when it is a ``tts`` clip."""
    if clip.tts is not None:
        return synthesise(clip.reference, clip.tts, work / f"{clip.id}.wav")
    assert clip.audio is not None
    if clip.audio.startswith("media:"):
        path = media_folder(media) / clip.audio.removeprefix("media:")
        hint = " (set --media or ETHOS_MEDIA to the folder that holds it)"
    else:
        path = Path(clip.audio).expanduser()
        path = path if path.is_absolute() else manifest.parent / path
        hint = ""
    if not path.is_file():
        raise ManifestError(f"clip {clip.id!r}: audio {path} not found{hint}")
    return path


def synthesise(reference: str, tts: Tts, dest: Path) -> Path:
    """The reference spoken by espeak-ng (mono 16-bit WAV), ``[pause]`` as silence."""
    if shutil.which("espeak-ng") is None:
        raise ManifestError("tts clips need espeak-ng (apt-get install espeak-ng)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    parts = [strip_tags(p) for p in _split_pauses(reference)]
    rate, chunks = 0, []
    for i, text in enumerate(parts):
        tmp = dest.with_suffix(f".part{i}.wav")
        done = subprocess.run(["espeak-ng", "-v", tts.voice, "-s", str(tts.rate), "-w", str(tmp), text],
                              capture_output=True, text=True)
        if done.returncode != 0 or not tmp.exists():
            raise ManifestError(f"espeak-ng failed for voice {tts.voice!r}: {done.stderr.strip()}")
        with wave.open(str(tmp), "rb") as w:
            rate = w.getframerate()
            chunks.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"))
        tmp.unlink()
        if i + 1 < len(parts):
            chunks.append(np.zeros(int(PAUSE_S * rate), dtype="<i2"))
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.concatenate(chunks).tobytes())
    return dest


def _split_pauses(reference: str) -> list[str]:
    return [p for p in re.split(r"\[\s*pause\s*\]", reference, flags=re.IGNORECASE) if p.strip()]
