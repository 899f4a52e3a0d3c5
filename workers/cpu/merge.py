"""Fuse per-segment speech and per-second face results into the result (README, "Result")."""

from __future__ import annotations

from shared.faces import segment_face
from shared.jobs import utcnow
from shared.schemas import (
    DiarizeOutput,
    FaceFrame,
    FaceFrames,
    FerChunkOutput,
    JobRecord,
    ModelInfo,
    Result,
    SttOutput,
    VocalOutput,
)
from workers.cpu.speakers import assign_speakers
from workers.fer.timeline import Timeline, per_second, unique_frames
from workers.vocal.inline import place_events


def face_timeline(chunks: list[FerChunkOutput]) -> tuple[dict[int, str], dict[int, dict[str, float]]]:
    """Per-second face label (argmax of the mean scores) and mean class scores."""
    faces = per_second(f for c in sorted(chunks, key=lambda c: c.start) for f in c.frames)
    return faces.labels, faces.scores


def build_result(
    rec: JobRecord,
    stt: SttOutput | None,
    fer: list[FerChunkOutput],
    timings: dict[str, float],
    diarized: DiarizeOutput | None = None,
    vocal: VocalOutput | None = None,
    inline_slack_s: float = 0.5,
) -> Result:
    """The final result object for a job."""
    has_video = bool(rec.media.has_video)
    segments, speakers = assign_speakers(
        [s.model_copy(deep=True) for s in (stt.segments if stt else [])],
        diarized.turns if diarized else None)
    events = place_events(segments, vocal.events, inline_slack_s,
                          stt.model.engine if stt else None) if vocal else []
    faces = Timeline()
    if has_video:
        faces = per_second(f for c in sorted(fer, key=lambda c: c.start) for f in c.frames)
        for seg in segments:
            seg.face_emotion = segment_face(seg, faces.labels)
    models: dict[str, ModelInfo] = {}
    if stt:
        models["stt"] = stt.model
        models["vad"] = stt.vad
    if fer:
        models["fer"] = fer[0].model
    if diarized:
        models["diarize"] = diarized.model
    if vocal:
        models["vocal"] = vocal.model
    return Result(
        job_id=rec.id,
        filename=rec.media.filename,
        duration=float(rec.media.duration or 0.0),
        language=rec.language,
        text=" ".join(s.text for s in segments if s.text).strip(),
        segments=segments,
        speakers=speakers,
        events=events,
        has_video=has_video,
        face_emotion_timeline={str(k): v for k, v in faces.labels.items()} if has_video else None,
        face_scores={str(k): v for k, v in faces.scores.items()} if has_video else None,
        face_counts={str(k): v for k, v in faces.counts.items()} if has_video else None,
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


def frame_log(fer: list[FerChunkOutput]) -> FaceFrames:
    """Every sampled frame of the job once, in time order (``?detail=frames``)."""
    frames: list[FaceFrame] = unique_frames(f for c in sorted(fer, key=lambda c: c.start) for f in c.frames)
    return FaceFrames(frames=frames)
