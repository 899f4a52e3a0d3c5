"""Fuse per-segment speech and per-second face results into the result (README, "Result")."""

from __future__ import annotations

import math
from collections import defaultdict

from shared.faces import majority, segment_face
from shared.jobs import utcnow
from shared.schemas import DiarizeOutput, FerChunkOutput, JobRecord, ModelInfo, Result, SttOutput
from workers.cpu.speakers import assign_speakers


def face_timeline(chunks: list[FerChunkOutput]) -> tuple[dict[int, str], dict[int, dict[str, float]]]:
    """Per-second majority face label and mean class scores, from frames that had a face."""
    labels: dict[int, list[str]] = defaultdict(list)
    scores: dict[int, list[dict[str, float]]] = defaultdict(list)
    seen: set[float] = set()
    for chunk in sorted(chunks, key=lambda c: c.start):
        for f in chunk.frames:
            if f.t in seen:  # a frame at a chunk border counts once
                continue
            seen.add(f.t)
            if f.label is None:
                continue
            sec = int(math.floor(f.t + 1e-6))
            labels[sec].append(f.label)
            if f.scores:
                scores[sec].append(f.scores)
    timeline = {sec: lab for sec, labs in sorted(labels.items()) if (lab := majority(labs))}
    mean_scores = {
        sec: {k: round(sum(s[k] for s in rows) / len(rows), 4) for k in rows[0]}
        for sec, rows in sorted(scores.items())
    }
    return timeline, mean_scores


def build_result(
    rec: JobRecord,
    stt: SttOutput | None,
    fer: list[FerChunkOutput],
    timings: dict[str, float],
    diarized: DiarizeOutput | None = None,
) -> Result:
    """The final result object for a job."""
    has_video = bool(rec.media.has_video)
    segments, speakers = assign_speakers(
        [s.model_copy(deep=True) for s in (stt.segments if stt else [])],
        diarized.turns if diarized else None)
    timeline: dict[int, str] = {}
    scores: dict[int, dict[str, float]] = {}
    if has_video:
        timeline, scores = face_timeline(fer)
        for seg in segments:
            seg.face_emotion = segment_face(seg, timeline)
    models: dict[str, ModelInfo] = {}
    if stt:
        models["stt"] = stt.model
        models["vad"] = stt.vad
    if fer:
        models["fer"] = fer[0].model
    if diarized:
        models["diarize"] = diarized.model
    return Result(
        job_id=rec.id,
        filename=rec.media.filename,
        duration=float(rec.media.duration or 0.0),
        language=rec.language,
        text=" ".join(s.text for s in segments if s.text).strip(),
        segments=segments,
        speakers=speakers,
        has_video=has_video,
        face_emotion_timeline={str(k): v for k, v in timeline.items()} if has_video else None,
        face_scores={str(k): v for k, v in scores.items()} if has_video else None,
        frames_without_face=sum(c.frames_without_face for c in fer) if has_video else None,
        face_chunks=[
            {"start": c.start, "end": c.end, "frames": len(c.frames),
             "frames_without_face": c.frames_without_face, "worker": c.worker, "seconds": c.seconds}
            for c in sorted(fer, key=lambda c: c.start)
        ] if has_video else None,
        models=models,
        timings=timings,
        created_at=rec.created_at,
        finished_at=utcnow(),
    )
