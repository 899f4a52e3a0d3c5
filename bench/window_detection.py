"""Language detection from short encoder windows against Whisper's 30-s window, engine alone.

Each recording is cut by our VAD as the stt worker cuts it; every segment is encoded twice by
the multilingual base, in the 30-s window and in the shortest window from ``--window-min``
(10 s: the one English jobs use), and the language head reads each encoding. Prints, per
segment, the expected language and both detections (top language, its probability), then the
agreement; the multilingual set and the English real set by default.

    PYTHONPATH=. .venv/bin/python bench/window_detection.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.multilingual_decoding import load
from ethos_testing.procs import media_dir
from shared.settings import SttSettings, VadSettings
from workers.stt import vad
from workers.stt.engines.fasterwhisper import FasterWhisperEngine
from workers.stt.engines.whisper_batch import FULL_WINDOW_S, window_frames

ROOT = Path(__file__).resolve().parent.parent
SETS = [ROOT / "evaluation" / "sets" / "multilingual" / "manifest.jsonl",
        ROOT / "evaluation" / "sets" / "real" / "manifest.jsonl"]


def detect(model, clip: np.ndarray, window_s: float) -> tuple[str, float, float]:  # type: ignore[no-untyped-def]
    """Top language, its probability and English's probability for one segment."""
    from faster_whisper.audio import pad_or_trim

    frames = window_frames(len(clip) / 16000, window_s, model.frames_per_second)
    feats = pad_or_trim(model.feature_extractor(clip.astype(np.float32))[..., :-1], frames)[None]
    probs = model.model.detect_language(model.encode(feats))[0]
    return probs[0][0][2:-2], float(probs[0][1]), float(dict(probs).get("<|en|>", 0.0))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifests", nargs="*", type=Path, default=SETS)
    p.add_argument("--window-min", type=float, default=10.0)
    args = p.parse_args()
    engine = FasterWhisperEngine(SttSettings(), "base")
    engine.load()
    cfg = VadSettings().model_copy(update={"merge_gap_s": engine.default_merge_gap_s})
    agree = n = 0
    rows = []
    for manifest in args.manifests:
        for line in manifest.read_text().splitlines():
            r = json.loads(line)
            audio = str(r["audio"])
            path = media_dir() / audio[6:] if audio.startswith("media:") else manifest.parent / audio
            if not path.exists():
                continue  # a real-set file not committed here
            samples = load(path)
            for a, b in vad.detect(samples, cfg):
                clip = samples[int(a * 16000):int(b * 16000)]
                full = detect(engine.model, clip, FULL_WINDOW_S)
                short = detect(engine.model, clip, args.window_min)
                n += 1
                agree += full[0] == short[0]
                rows.append({"id": r["id"], "expected": r.get("language", "en"), "seconds": round(b - a, 2),
                             "full": [full[0], round(full[1], 4), round(full[2], 4)],
                             "short": [short[0], round(short[1], 4), round(short[2], 4)]})
                print(json.dumps(rows[-1]), flush=True)
    right_full = sum(x["full"][0] == x["expected"] for x in rows)
    right_short = sum(x["short"][0] == x["expected"] for x in rows)
    print(f"segments {n}: same top language {agree}/{n}; right at 30 s {right_full}, "
          f"right at {args.window_min:g}-s minimum {right_short}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
