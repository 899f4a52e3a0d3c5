"""Corrections of a result: a new version built from the one it corrects.

The client sends the segments (times, text, speaker, optional words); everything the server
derives is derived again with the same code as the machine output: tags and their times,
the segment emotion and its track (``shared.tags.annotate``), the face emotion of each
segment (``shared.faces.segment_face``), the full text. Fields outside ``segments`` (models,
timings, the face timeline…) are the machine's and stay as they were.
"""

from __future__ import annotations

from shared.faces import segment_face
from shared.schemas import Result, ResultCorrection, Segment, SpeakerInfo, Word
from shared.scripts import join_texts
from shared.tags import annotate

# A segment may end this far past the media's duration (container rounding).
END_SLACK_S = 0.5


class InvalidCorrection(ValueError):
    """The correction's content is inconsistent (times, order, words)."""


def _check_words(i: int, start: float, end: float, words: list[Word]) -> None:
    prev = start
    for w in words:
        if w.end < w.start or w.start < prev - 1e-3 or w.end > end + 1e-3:
            raise InvalidCorrection(
                f"segments[{i}].words: each word must lie inside the segment ({start}-{end} s), "
                f"in order; {w.word!r} at {w.start}-{w.end} s does not")
        prev = w.end


def apply(base: Result, body: ResultCorrection, version: int, at: str) -> Result:
    """The result ``base`` corrected by ``body``, as version ``version`` saved at ``at``."""
    limit = base.duration + END_SLACK_S
    timeline = {int(k): v for k, v in (base.face_emotion_timeline or {}).items()}
    segments: list[Segment] = []
    last_start = 0.0
    for i, s in enumerate(body.segments):
        if not s.end > s.start:
            raise InvalidCorrection(f"segments[{i}]: end ({s.end}) must be after start ({s.start})")
        if s.end > limit:
            raise InvalidCorrection(
                f"segments[{i}]: end ({s.end}) is past the recording's duration ({base.duration} s)")
        if s.start < last_start:
            raise InvalidCorrection(f"segments[{i}]: segments must be in order of start time")
        last_start = s.start
        _check_words(i, s.start, s.end, s.words)
        text = " ".join(s.text.split())
        a = annotate(text, s.start, s.end, s.words)
        seg = Segment(
            id=i + 1, speaker=s.speaker, start=round(s.start, 3), end=round(s.end, 3), text=text,
            emotion=a.emotion, valence=a.valence, arousal=a.arousal, tags=a.tags,
            emotion_track=a.track, words=s.words, language=s.language,
        )
        if base.has_video:
            seg.face_emotion = segment_face(seg, timeline)
        segments.append(seg)
    # The speakers as the corrected segments have them (order of first appearance); names
    # given to them live on the job and are applied when the result is read.
    speech: dict[str, float] = {}
    for seg in segments:
        speech[seg.speaker] = speech.get(seg.speaker, 0.0) + seg.end - seg.start
    # Overlaps only between two speakers the corrected segments still have.
    overlaps = [o for o in base.overlaps if len(set(o.speakers)) == len(o.speakers) and set(o.speakers) <= speech.keys()]
    return base.model_copy(update={
        "segments": segments,
        "overlaps": overlaps,
        "speakers": [SpeakerInfo(id=k, total_speech_s=round(v, 3)) for k, v in speech.items()],
        "text": join_texts(s.text for s in segments),
        "version": version,
        "corrected_at": at,
    })
