"""Speakers counted again on request (``POST /v1/jobs/{id}/speakers/recount``): the job's stored
embedding windows (``workers.diarize.store``) are clustered with the count or bounds the user
gives, and the result is rebuilt from the other steps' outputs (the machine transcript, the face
chunks) with the merge step's own code (``compose``): segments split where the new speakers change,
long ones cut at sentence ends. It is saved as the next version of the result, as a correction
is (``If-Match`` semantics: only on top of the version the user saw). Neither the audio nor the
encoder is touched, so it costs a fraction of a second per minute of speech.

Text corrections saved before are not carried over (they stay as earlier versions): counting
speakers again starts from the machine transcript.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from shared import objects, steps
from shared.jobs import JobStore, utcnow
from shared.schemas import DiarizeOutput, JobRecord
from shared.settings import DiarizeSettings
from shared.storage.base import Storage
from workers.cpu.merge import compose, read_outputs
from workers.diarize import channels
from workers.diarize import store as windows_store
from workers.diarize.cluster import SpeakerCount
from workers.diarize.pipeline import label

log = logging.getLogger("ethos.diarize")


def recount(storage: Storage, jobs: JobStore, rec: JobRecord, cfg: DiarizeSettings, count: SpeakerCount,
            expected: int | None) -> dict[str, Any]:
    """Recount ``rec``'s speakers and save the next result version on top of ``expected``
    (None: the latest). ``{"version", "speakers", "seconds"}``, or ``{"error", "message",
    "latest"}`` when the result moved on (``stale``) or the job has no windows (``no_windows``)."""
    t0 = time.perf_counter()
    latest = jobs.result_version(rec.id)
    if expected is not None and expected != latest:
        return {"error": "stale", "latest": latest, "message": f"the result is at version {latest}"}
    try:
        regions, w, seg = windows_store.load(storage, rec.id)
    except Exception as e:  # noqa: BLE001 - a job diarized before windows were kept, or expired
        return {"error": "no_windows", "latest": latest,
                "message": f"job {rec.id} has no stored speaker embeddings ({type(e).__name__})"}
    diarized: DiarizeOutput = label(regions, w, cfg, count, seg=seg)
    if cfg.by_channel:
        diarized = channels.apply(diarized, channels.load(storage, rec.id), regions, count, cfg)
    outputs = read_outputs(storage, rec)
    outputs[steps.DIARIZE.name] = [diarized]
    timings = jobs.timings(rec.id)
    timings["recount"] = round(time.perf_counter() - t0, 4)
    at = utcnow()
    result = compose(rec, outputs, timings).result
    result = result.model_copy(update={"version": latest + 1, "corrected_at": at})
    key = objects.result_version(rec.id, latest + 1, secrets.token_hex(4))
    storage.put_bytes(key, result.model_dump_json(exclude={"face_frames"}).encode())
    ok, n = jobs.commit_version(rec.id, latest, key, at, len(result.segments))
    if ok != 1:
        storage.delete_prefix(key)
        return {"error": "stale", "latest": n, "message": f"the result moved on to version {n} meanwhile"}
    log.info("job %s: speakers recounted (%s) -> %d speakers, version %d",
             rec.id, count, diarized.speakers, n)
    return {"version": n, "speakers": len(result.speakers), "seconds": round(time.perf_counter() - t0, 4)}
