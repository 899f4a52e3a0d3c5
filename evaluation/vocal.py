"""``ethos-eval-vocal``: the vocal-events detector measured on real recordings, offline.

    ethos-eval-vocal evaluation/sets/vocal/manifest.jsonl --nvd PATH --out data/eval-vocal

The manifest (JSONL) names each clip's audio and the vocal tags a listener hears in it:

- ``audio``: a path beside the manifest, ``media:<name>`` (the shared media folder, see
  ``evaluation.manifest.media_folder``) or ``nvd:<path>`` (a file of the Deeply Nonverbal
  Vocalization Dataset, which is CC BY-NC-ND and so not committed: ``--nvd`` or
  ``$ETHOS_NVD`` is a checkout of github.com/deeplyinc/Nonverbal-Vocalization-Dataset);
  or ``concat``: a list of such names played one after the other; or ``mix``:
  ``{"base", "insert", "at"}``, a clip laid into another at ``at`` seconds (the base is cut
  there and resumes after it);
- ``tags``: the vocal tags expected (``[]``: none may appear); ``allow``: tags that may
  appear without counting as false (a throat clearing heard as a cough); ``context``:
  context events expected (music, applause), reported apart;
- ``source`` and ``licence``: where the recording comes from.

Clips whose audio is missing are skipped (and listed). The report gives per-tag precision
and recall over clips (a clip counts once per tag), each clip's events, and the detector's
speed; exit status 0 when every clip ran, 1 when some were skipped, 2 when the set cannot be used.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from evaluation.manifest import ManifestError, media_folder

log = logging.getLogger("ethos.eval")
SR = 16000


class Mix(BaseModel):
    base: str
    insert: str
    at: float = Field(ge=0)


class VocalClip(BaseModel):
    id: str
    audio: str | None = None
    concat: list[str] | None = None
    mix: Mix | None = None
    tags: list[str] = []
    allow: list[str] = []
    context: list[str] = []
    source: dict[str, str] | str | None = None
    licence: str | None = None


def load(path: Path) -> list[VocalClip]:
    """The clips of a vocal manifest."""
    try:
        lines = [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    except OSError as e:
        raise ManifestError(f"cannot read the manifest {path}: {e.strerror or e}") from e
    clips = [VocalClip.model_validate(json.loads(x)) for x in lines]
    for c in clips:
        if sum(x is not None for x in (c.audio, c.concat, c.mix)) != 1:
            raise ManifestError(f"clip {c.id!r}: give exactly one of audio, concat, mix")
    return clips


def locate(name: str, manifest: Path, media: Path | None, nvd: Path | None) -> Path:
    """The file a manifest name stands for; ManifestError when it is not here."""
    if name.startswith("media:"):
        path, hint = media_folder(media) / name.removeprefix("media:"), "--media or ETHOS_MEDIA"
    elif name.startswith("nvd:"):
        root = nvd or (Path(os.environ["ETHOS_NVD"]) if os.environ.get("ETHOS_NVD") else None)
        if root is None:
            raise ManifestError(f"{name}: set --nvd or ETHOS_NVD to a checkout of the Deeply "
                                "Nonverbal Vocalization Dataset (CC BY-NC-ND, not committed)")
        path, hint = root / name.removeprefix("nvd:"), "--nvd or ETHOS_NVD"
    else:
        path, hint = (manifest.parent / name), "the manifest's folder"
    if not path.is_file():
        raise ManifestError(f"{name}: {path} not found (see {hint})")
    return path


def decode(path: Path) -> np.ndarray:
    """Any audio file → 16-kHz mono float32 samples (ffmpeg)."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-ac", "1",
                          "-ar", str(SR), "-f", "s16le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def samples(clip: VocalClip, manifest: Path, media: Path | None, nvd: Path | None) -> np.ndarray:
    """The clip's audio as 16-kHz samples (concatenated or mixed as the manifest says)."""
    def get(name: str) -> np.ndarray:
        return decode(locate(name, manifest, media, nvd))

    if clip.concat:
        return np.concatenate([get(n) for n in clip.concat])
    if clip.mix:
        base, insert = get(clip.mix.base), get(clip.mix.insert)
        cut = int(clip.mix.at * SR)
        return np.concatenate([base[:cut], insert, base[cut:]])
    assert clip.audio is not None
    return get(clip.audio)


def score(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Per-tag precision and recall over clips."""
    tags = sorted({t for r in rows for t in r["expected"] + r["found"]})
    out: dict[str, dict[str, float | int]] = {}
    for tag in tags:
        tp = sum(tag in r["expected"] and tag in r["found"] for r in rows)
        fn = sum(tag in r["expected"] and tag not in r["found"] for r in rows)
        fp = sum(tag in r["found"] and tag not in r["expected"] and tag not in r["allow"] for r in rows)
        out[tag] = {"tp": tp, "fp": fp, "fn": fn,
                    "precision": round(tp / (tp + fp), 3) if tp + fp else float("nan"),
                    "recall": round(tp / (tp + fn), 3) if tp + fn else float("nan")}
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = ["| tag | clips with it | precision | recall | tp | fp | fn |", "|---|---|---|---|---|---|---|"]
    for tag, s in report["per_tag"].items():
        lines.append(f"| {tag} | {s['tp'] + s['fn']} | {s['precision']:.2f} | {s['recall']:.2f} | "
                     f"{s['tp']} | {s['fp']} | {s['fn']} |")
    lines.append("")
    lines.append(f"{report['clips']} clips, {report['audio_s']:.0f} s of audio, detector "
                 f"{report['speed_x']:.0f}× real time on {report['threads']} thread(s); "
                 f"{len(report['skipped'])} skipped.")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from shared.settings import VocalSettings
    from workers.vocal.pipeline import detect_vocal_events

    cfg = VocalSettings(cache_dir=args.cache, threads=1)
    clips = load(args.manifest)
    rows, skipped, audio_s, compute_s = [], [], 0.0, 0.0
    for clip in clips:
        try:
            x = samples(clip, args.manifest, args.media, args.nvd)
        except ManifestError as e:
            skipped.append({"id": clip.id, "why": str(e)})
            continue
        t0 = time.process_time()
        out = detect_vocal_events(x, cfg)
        compute_s += time.process_time() - t0
        audio_s += len(x) / SR
        found = sorted({e.tag for e in out.events if e.tag})
        rows.append({"id": clip.id, "expected": clip.tags, "allow": clip.allow, "found": found,
                     "context_expected": clip.context,
                     "context_found": sorted({e.label for e in out.events if e.tag is None}),
                     "events": [e.model_dump(exclude={"segment", "source"}) for e in out.events]})
    report = {"clips": len(rows), "audio_s": round(audio_s, 1), "compute_s": round(compute_s, 3),
              "speed_x": round(audio_s / compute_s, 1) if compute_s else 0.0, "threads": 1,
              "per_tag": score(rows), "skipped": skipped, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    (args.out / "report.md").write_text(markdown(report))
    log.info("%s", markdown(report))
    return 0 if not skipped else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ethos-eval-vocal", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("manifest", type=Path)
    p.add_argument("--nvd", type=Path, default=None, help="checkout of the Deeply Nonverbal Vocalization Dataset")
    p.add_argument("--media", type=Path, default=None, help="folder for media: clips")
    p.add_argument("--cache", type=Path, default=Path("data/models"), help="where the model is unpacked")
    p.add_argument("--out", type=Path, default=Path("data/eval-vocal"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run(args)
    except ManifestError as e:
        log.error("%s", e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
