"""A job's embedding windows, kept in storage so its speakers can be counted again later
(``workers.diarize.recount``) without reading the audio or running the encoder.

One object per job, ``diarize/windows.npz`` (``shared.objects.diarize_windows``): the speech regions, each
window's start and end, and its embedding as float16 (256 × 2 bytes a window: about 500 kB
for a 10-minute recording at the default 0.5-s step); and the segmentation model's chunks (their
starts and one powerset class per frame, a byte: 589 bytes a 10-s chunk, a few kB compressed
for 10 minutes), so that a re-count finds the overlaps again. A job stored before the frames
were kept loads with none (no overlaps).
"""

from __future__ import annotations

import io

import numpy as np

from shared import objects
from shared.storage.base import Storage
from workers.diarize.embed import Windows
from workers.diarize.segmentation import Segmentation, empty


def save(storage: Storage, job_id: str, regions: list[tuple[float, float]], w: Windows,
         seg: Segmentation | None = None) -> str:
    seg = seg if seg is not None else empty()
    buf = io.BytesIO()
    np.savez_compressed(buf, regions=np.asarray(regions, dtype=np.float64).reshape(-1, 2),
                        starts=w.starts, ends=w.ends, embeddings=w.embeddings.astype(np.float16),
                        seg_starts=seg.starts, seg_classes=seg.classes)
    key = objects.diarize_windows(job_id)
    storage.put_bytes(key, buf.getvalue(), "application/octet-stream")
    return key


def load(storage: Storage, job_id: str) -> tuple[list[tuple[float, float]], Windows, Segmentation]:
    """The regions, windows and segmentation frames :func:`save` stored (KeyError-like storage
    error if none)."""
    with np.load(io.BytesIO(storage.get_bytes(objects.diarize_windows(job_id)))) as z:
        emb = z["embeddings"].astype(np.float32)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        regions = [(float(a), float(b)) for a, b in z["regions"]]
        seg = (Segmentation(z["seg_starts"].astype(np.float64), z["seg_classes"].astype(np.uint8))
               if "seg_starts" in z.files else empty())
        return regions, Windows(z["starts"].astype(np.float64), z["ends"].astype(np.float64), emb), seg
