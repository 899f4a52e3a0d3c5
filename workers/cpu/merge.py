"""Fuse the steps' outputs into the result (README, "Result").

The merge task parses each step's output objects and hands them, in the step table's order
(``shared.steps``), to the step's merge part: a function ``part(draft, outputs)`` that adds
what the step knows to the :class:`Draft`. The draft then becomes the :class:`Result`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared import steps
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
    Segment,
    SpeakerInfo,
    SttOutput,
)
from shared.scripts import join_texts
from shared.storage.base import Storage
from workers.cpu.speakers import assign_speakers, assign_with_overlaps
from workers.fer.timeline import per_second, unique_frames


@dataclass
class Draft:
    """The result being assembled: the merge parts fill it in table order."""

    rec: JobRecord
    timings: dict[str, float]
    segments: list[Segment] = field(default_factory=list)
    speakers: list[SpeakerInfo] = field(default_factory=list)
    models: dict[str, ModelInfo] = field(default_factory=dict)
    # Further Result fields set by a step (e.g. the face timeline).
    fields: dict[str, Any] = field(default_factory=dict)
    # The per-frame log of a video job, stored beside the result (``?detail=frames``).
    frames: FaceFrames | None = None

    @property
    def result(self) -> Result:
        rec = self.rec
        return Result(
            job_id=rec.id,
            filename=rec.media.filename,
            duration=float(rec.media.duration or 0.0),
            text=join_texts(s.text for s in self.segments),
            segments=self.segments,
            speakers=self.speakers,
            has_video=bool(rec.media.has_video),
            models=self.models,
            timings=self.timings,
            created_at=rec.created_at,
            finished_at=utcnow(),
            # The stt step replaces the job's language with the detected one (``auto``).
            **{"language": rec.language, "task": rec.task, **self.fields},
        )


def read_outputs(storage: Storage, rec: JobRecord) -> dict[str, list[Any]]:
    """Each merged step's output objects, parsed (``[]`` when the step did not run)."""
    outputs: dict[str, list[Any]] = {}
    for step in steps.STEPS:
        if step.merge is None or step.output is None or step.schema is None:
            continue
        if step.name not in rec.parts:
            keys = []
        elif step.fan_out:
            keys = [step.output(rec.id, i) for i in range(rec.chunks.get(step.name, 0))]
        else:
            keys = [step.output(rec.id)]
        outputs[step.name] = [step.schema.model_validate_json(storage.get_bytes(k)) for k in keys]
    return outputs


def compose(rec: JobRecord, outputs: dict[str, list[Any]], timings: dict[str, float]) -> Draft:
    """Apply every step's merge part to its parsed outputs (``[]``: the step did not run)."""
    draft = Draft(rec, timings)
    for step in steps.STEPS:
        if step.merge:
            steps.hook(step.merge)(draft, outputs.get(step.name, []))
    return draft


def merge_speech(draft: Draft, outputs: list[SttOutput]) -> None:
    """The stt step: the segments (every one ``SPEAKER_00`` until speakers are known)."""
    stt = outputs[0] if outputs else None
    draft.segments, draft.speakers = assign_speakers(
        [s.model_copy(deep=True) for s in (stt.segments if stt else [])], None)
    if stt:
        draft.models["stt"] = stt.model
        draft.models["vad"] = stt.vad
        draft.fields.update(language=stt.language, language_probability=stt.language_probability)


def merge_speakers(draft: Draft, outputs: list[DiarizeOutput]) -> None:
    """The diarize step: each segment takes its speaker, split where the speaker changes; where
    two people talk at once, the result's overlaps."""
    if not outputs:
        return
    draft.segments, draft.speakers, overlaps = assign_with_overlaps(draft.segments, outputs[0].turns,
                                                                    outputs[0].overlaps)
    draft.fields["overlaps"] = overlaps
    draft.models["diarize"] = outputs[0].model


def merge_faces(draft: Draft, outputs: list[FerChunkOutput]) -> None:
    """The fer step: the per-second face timeline and each segment's face label (video only)."""
    if outputs:
        draft.models["fer"] = outputs[0].model
    if not draft.rec.media.has_video:
        return
    chunks = sorted(outputs, key=lambda c: c.start)
    faces = per_second(f for c in chunks for f in c.frames)
    for seg in draft.segments:
        seg.face_emotion = segment_face(seg, faces.labels)
    draft.fields.update(
        face_emotion_timeline={str(k): v for k, v in faces.labels.items()},
        face_scores={str(k): v for k, v in faces.scores.items()},
        face_counts={str(k): v for k, v in faces.counts.items()},
        frames_without_face=sum(c.frames_without_face for c in chunks),
        face_chunks=[
            {"start": c.start, "end": c.end, "frames": len(c.frames),
             "frames_without_face": c.frames_without_face, "worker": c.worker, "seconds": c.seconds}
            for c in chunks
        ],
    )
    draft.frames = frame_log(chunks)


def build_result(
    rec: JobRecord,
    stt: SttOutput | None,
    fer: list[FerChunkOutput],
    timings: dict[str, float],
    diarized: DiarizeOutput | None = None,
) -> Result:
    """The final result object for a job from the three merged steps' outputs."""
    outputs: dict[str, list[Any]] = {steps.STT.name: [stt] if stt else [], steps.FER.name: fer,
                                     steps.DIARIZE.name: [diarized] if diarized else []}
    return compose(rec, outputs, timings).result


def face_timeline(chunks: list[FerChunkOutput]) -> tuple[dict[int, str], dict[int, dict[str, float]]]:
    """Per-second face label (argmax of the mean scores) and mean class scores."""
    faces = per_second(f for c in sorted(chunks, key=lambda c: c.start) for f in c.frames)
    return faces.labels, faces.scores


def frame_log(fer: list[FerChunkOutput]) -> FaceFrames:
    """Every sampled frame of the job once, in time order (``?detail=frames``)."""
    frames: list[FaceFrame] = unique_frames(f for c in sorted(fer, key=lambda c: c.start) for f in c.frames)
    return FaceFrames(frames=frames)
