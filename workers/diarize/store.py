"""A job's embedding windows, kept in storage so its speakers can be counted again later
(``workers.diarize.recount``) without reading the audio or running the encoder.

One object per job, ``diarize/windows.npz`` (``shared.objects.diarize_windows``): the speech regions, each
window's start and end, and its embedding as float16 (256 × 2 bytes a window: about 500 kB
for a 10-minute recording at the default 0.5-s step).
"""

from __future__ import annotations

import io

import numpy as np

from shared import objects
from shared.storage.base import Storage
from workers.diarize.embed import Windows


def save(storage: Storage, job_id: str, regions: list[tuple[float, float]], w: Windows) -> str:
    buf = io.BytesIO()
    np.savez_compressed(buf, regions=np.asarray(regions, dtype=np.float64).reshape(-1, 2),
                        starts=w.starts, ends=w.ends, embeddings=w.embeddings.astype(np.float16))
    key = objects.diarize_windows(job_id)
    storage.put_bytes(key, buf.getvalue(), "application/octet-stream")
    return key


def load(storage: Storage, job_id: str) -> tuple[list[tuple[float, float]], Windows]:
    """The regions and windows :func:`save` stored (KeyError-like storage error if none)."""
    with np.load(io.BytesIO(storage.get_bytes(objects.diarize_windows(job_id)))) as z:
        emb = z["embeddings"].astype(np.float32)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        regions = [(float(a), float(b)) for a, b in z["regions"]]
        return regions, Windows(z["starts"].astype(np.float64), z["ends"].astype(np.float64), emb)
