"""One job's diarization as plain functions: speech regions → windows → embeddings, and the
segmentation model's frames (:func:`analyse`, the costly part) → count and clusters → turns,
and where a second voice overlaps them (:func:`label`, cheap: what a re-count runs again on the
stored windows and frames)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from shared.schemas import DiarizeOutput
from shared.settings import DiarizeSettings
from workers.diarize import embed, segmentation
from workers.diarize.cluster import CountSettings, SpeakerCount, cluster, cluster_fused
from workers.diarize.overlap import second_voice
from workers.diarize.regions import speech_regions
from workers.diarize.turns import make_turns
from workers.libs import math_threads


def analyse(samples: np.ndarray, cfg: DiarizeSettings, on_progress: Callable[[float], None] | None = None
            ) -> tuple[list[tuple[float, float]], embed.Windows, segmentation.Segmentation]:
    """Speech regions, embedding windows and the segmentation model's frames (none when
    ``cfg.overlap`` is off) of 16 kHz mono float32 audio."""
    with math_threads(cfg.threads):
        regions = speech_regions(samples)
        windows = embed.plan_windows(regions, cfg.step_s)
        w = embed.embed_windows(samples, windows, cfg.threads,
                                (lambda f: on_progress(0.85 * f)) if on_progress else None, cfg.encoder)
        seg = (segmentation.segment(samples, cfg.overlap_step_s, cfg.threads, regions)
               if cfg.overlap and regions else segmentation.empty())
    return regions, w, seg


def count_settings(cfg: DiarizeSettings, encoder: str | None = None) -> CountSettings:
    """The automatic count's thresholds: the settings', or for CAM++ (``encoder``, else the
    settings') its own calibrated values where the settings leave them unset (its cosine
    scale is not Resemblyzer's)."""
    one, far, split = cfg.one_voice_similarity, cfg.far_similarity, cfg.split_similarity
    if (encoder or cfg.encoder) == "campplus":
        from workers.diarize.encoders import campplus

        if "one_voice_similarity" not in cfg.model_fields_set:
            one = campplus.ONE_VOICE_SIMILARITY
        if "far_similarity" not in cfg.model_fields_set:
            far = campplus.FAR_SIMILARITY
        if "split_similarity" not in cfg.model_fields_set:
            split = campplus.SPLIT_SIMILARITY
    return CountSettings(one_voice_similarity=one, far_similarity=far, split_similarity=split,
                         min_speaker_s=cfg.min_speaker_s)


def label(regions: list[tuple[float, float]], w: embed.Windows, cfg: DiarizeSettings,
          count: SpeakerCount, seconds: float = 0.0, seg: segmentation.Segmentation | None = None
          ) -> DiarizeOutput:
    """Speaker turns from the windows: the count (given or automatic), clusters, turns; and
    with the segmentation's frames (``seg``), where a second voice overlaps them."""
    t0 = time.perf_counter()
    encoder = embed.encoder_of(w)
    with math_threads(cfg.threads):
        if encoder == "fused":  # the thresholds set apply to Resemblyzer's part; CAM++'s keeps its own
            res, cam = embed.halves(w.embeddings)
            own = DiarizeSettings(encoder="campplus", min_speaker_s=cfg.min_speaker_s)
            labels = cluster_fused(res, cam, count, count_settings(cfg, "resemblyzer"), count_settings(own),
                                   cfg.max_cluster_windows, w.starts, w.ends)
        else:
            labels = cluster(w.embeddings, count, count_settings(cfg, encoder), cfg.max_cluster_windows,
                             w.starts, w.ends)
    turns = make_turns(regions, w.starts, w.ends, labels, cfg.min_turn_s)
    overlaps = second_voice(seg, turns) if seg is not None and cfg.overlap else []
    model = embed.info(encoder)
    lo, hi = count.bounds()
    method = "agglomerative count" + (" (both encoders)" if encoder == "fused" else "") + ", agglomerative or spectral"
    model.extra = {"step_s": cfg.step_s, "window_s": embed.WINDOW_S, "clustering": method,
                   "num_speakers": count.num, "min_speakers": lo, "max_speakers": hi}
    if cfg.overlap and seg is not None and len(seg):
        model.extra["overlap"] = {"model": segmentation.info().model_id, "chunk_s": segmentation.CHUNK_S,
                                  "step_s": cfg.overlap_step_s}
    return DiarizeOutput(
        turns=turns, model=model, seconds=round(seconds + time.perf_counter() - t0, 4), windows=len(w),
        clustered_windows=min(len(w), cfg.max_cluster_windows),
        speakers=len({t.speaker for t in turns}), overlaps=overlaps,
    )


def diarize_audio(samples: np.ndarray, cfg: DiarizeSettings, count: SpeakerCount,
                  on_progress: Callable[[float], None] | None = None) -> DiarizeOutput:
    """Who speaks when in 16 kHz mono float32 audio."""
    t0 = time.perf_counter()
    regions, w, seg = analyse(samples, cfg, on_progress)
    return label(regions, w, cfg, count, time.perf_counter() - t0, seg)
