"""One job's diarization as plain functions: speech regions → windows → embeddings
(:func:`analyse`, the costly part) → count and clusters → turns (:func:`label`, cheap: what a
re-count runs again on the stored windows)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from shared.schemas import DiarizeOutput
from shared.settings import DiarizeSettings
from workers.diarize import embed
from workers.diarize.cluster import CountSettings, SpeakerCount, cluster
from workers.diarize.regions import speech_regions
from workers.diarize.turns import make_turns


def analyse(samples: np.ndarray, cfg: DiarizeSettings, on_progress: Callable[[float], None] | None = None
            ) -> tuple[list[tuple[float, float]], embed.Windows]:
    """Speech regions and embedding windows of 16 kHz mono float32 audio."""
    regions = speech_regions(samples)
    windows = embed.plan_windows(regions, cfg.step_s)
    w = embed.embed_windows(samples, windows, cfg.threads,
                            (lambda f: on_progress(0.9 * f)) if on_progress else None)
    return regions, w


def label(regions: list[tuple[float, float]], w: embed.Windows, cfg: DiarizeSettings,
          count: SpeakerCount, seconds: float = 0.0) -> DiarizeOutput:
    """Speaker turns from the windows: the count (given or automatic), clusters, turns."""
    t0 = time.perf_counter()
    counting = CountSettings(one_voice_similarity=cfg.one_voice_similarity, far_similarity=cfg.far_similarity,
                             split_similarity=cfg.split_similarity, min_speaker_s=cfg.min_speaker_s)
    labels = cluster(w.embeddings, count, counting, cfg.max_cluster_windows, w.starts, w.ends)
    turns = make_turns(regions, w.starts, w.ends, labels, cfg.min_turn_s)
    model = embed.info()
    lo, hi = count.bounds()
    model.extra = {"step_s": cfg.step_s, "window_s": embed.WINDOW_S, "clustering": "agglomerative count, agglomerative or spectral",
                   "num_speakers": count.num, "min_speakers": lo, "max_speakers": hi}
    return DiarizeOutput(
        turns=turns, model=model, seconds=round(seconds + time.perf_counter() - t0, 4), windows=len(w),
        clustered_windows=min(len(w), cfg.max_cluster_windows),
        speakers=len({t.speaker for t in turns}),
    )


def diarize_audio(samples: np.ndarray, cfg: DiarizeSettings, count: SpeakerCount,
                  on_progress: Callable[[float], None] | None = None) -> DiarizeOutput:
    """Who speaks when in 16 kHz mono float32 audio."""
    t0 = time.perf_counter()
    regions, w = analyse(samples, cfg, on_progress)
    return label(regions, w, cfg, count, time.perf_counter() - t0)
