"""One job's diarization as a plain function: speech regions → windows → embeddings →
clusters → turns."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from shared.schemas import DiarizeOutput
from shared.settings import DiarizeSettings, VadSettings
from workers.diarize import embed
from workers.diarize.cluster import SpeakerCount, cluster
from workers.diarize.turns import make_turns

# Speech regions for diarization: the job's VAD settings, but pauses are kept (no packing),
# so a change of speaker at a pause is a region border.
REGION_GAP_S = 0.3


def speech_regions(samples: np.ndarray, vad_cfg: VadSettings) -> list[tuple[float, float]]:
    """Silero VAD's speech regions (the stt room's detector, pauses unpacked)."""
    from workers.stt import vad

    return vad.detect(samples, vad_cfg.model_copy(update={"merge_gap_s": REGION_GAP_S}))


def diarize_audio(samples: np.ndarray, vad_cfg: VadSettings, cfg: DiarizeSettings,
                  count: SpeakerCount, on_progress: Callable[[float], None] | None = None
                  ) -> DiarizeOutput:
    """Who speaks when in 16 kHz mono float32 audio."""
    t0 = time.perf_counter()
    regions = speech_regions(samples, vad_cfg)
    windows = embed.plan_windows(regions, cfg.step_s)
    w = embed.embed_windows(samples, windows, cfg.threads,
                            (lambda f: on_progress(0.9 * f)) if on_progress else None)
    labels = cluster(w.embeddings, count, cfg.merge_similarity, cfg.max_cluster_windows)
    turns = make_turns(regions, w.starts, w.ends, labels, cfg.min_turn_s)
    model = embed.info()
    lo, hi = count.bounds()
    model.extra = {"step_s": cfg.step_s, "window_s": embed.WINDOW_S, "clustering": "spectral",
                   "num_speakers": count.num, "min_speakers": lo, "max_speakers": hi}
    return DiarizeOutput(
        turns=turns, model=model, seconds=round(time.perf_counter() - t0, 4), windows=len(w),
        clustered_windows=min(len(w), cfg.max_cluster_windows),
        speakers=len({t.speaker for t in turns}),
    )
