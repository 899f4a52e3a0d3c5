"""A piece of a segment: its text between two character offsets, with the words, tags and
emotion that fall inside (used where a segment is split by speaker or by sentence)."""

from __future__ import annotations

from shared.schemas import Segment, TagHit, Word
from shared.tags import emotion_track, segment_emotion


def piece(seg: Segment, text_from: int, text_to: int, start: float, end: float, speaker: str,
          words: list[Word]) -> Segment:
    """The piece of ``seg`` from character ``text_from`` to ``text_to`` (trimmed), timed
    ``start``–``end``, spoken by ``speaker``; tag offsets shift to the piece."""
    raw = seg.text[text_from:text_to]
    lead = len(raw) - len(raw.lstrip())
    text = raw.strip()
    base = text_from + lead
    tags = [TagHit(**{**t.model_dump(), "char": t.char - base}) for t in seg.tags
            if base <= t.char < base + max(len(text), 1)]
    emotion, valence, arousal = segment_emotion(tags)
    return seg.model_copy(update={
        "speaker": speaker, "start": round(start, 3), "end": round(end, 3), "text": text,
        "tags": tags, "emotion": emotion, "valence": valence, "arousal": arousal,
        "emotion_track": emotion_track(tags), "words": words,
    })
