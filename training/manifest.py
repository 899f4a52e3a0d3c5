"""Training manifests: JSONL, one clip a line: ``{"audio": path, "text": tagged transcript}``.

A relative ``audio`` path is taken relative to the manifest's folder. Any audio ffmpeg reads
is accepted; clips are decoded to 16 kHz mono and must fit one 30-s Voxtral window.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SR = 16000
MAX_SECONDS = 30.0


@dataclass
class Example:
    audio: Path
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


def read_manifest(path: Path) -> list[Example]:
    """The clips of a manifest, with their audio paths resolved."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            audio, text = Path(row.pop("audio")), str(row.pop("text"))
        except (ValueError, KeyError) as e:
            raise ValueError(f"{path}:{n}: each line needs JSON with 'audio' and 'text' ({e})") from e
        out.append(Example(audio if audio.is_absolute() else path.parent / audio, text, row))
    if not out:
        raise ValueError(f"{path} holds no clips")
    return out


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def load_audio(path: Path) -> np.ndarray:
    """16 kHz mono float32 samples of any file ffmpeg decodes (at most one 30-s window)."""
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-ac", "1", "-ar", str(SR), "-f", "s16le", "-"],
        capture_output=True, check=False,
    )
    if proc.returncode != 0:
        raise ValueError(f"cannot decode {path}: {proc.stderr.decode(errors='replace').strip()}")
    samples = np.frombuffer(proc.stdout, dtype="<i2").astype(np.float32) / 32768.0
    if len(samples) > MAX_SECONDS * SR:
        raise ValueError(f"{path} is {len(samples) / SR:.1f} s long; training clips must fit {MAX_SECONDS:.0f} s")
    return samples
