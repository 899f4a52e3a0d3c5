"""Turn audio into segments: VAD, batches through the engine, tags → emotion."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from shared.schemas import Segment, Word
from shared.settings import VadSettings
from shared.tags import annotate
from workers.stt import vad
from workers.stt.audio import cut
from workers.stt.engines.base import SpeechEngine


def place_words(words: list[Word], start: float, end: float) -> list[Word]:
    """Clip-relative words as absolute times, clamped inside [start, end], in order, never
    overlapping the word before."""
    out: list[Word] = []
    floor = start
    for w in words:
        a = min(max(start + w.start, floor), end)
        b = min(max(start + w.end, a), end)
        out.append(w.model_copy(update={"start": round(a, 3), "end": round(b, 3)}))
        floor = b
    return out


def make_segment(seg_id: int, start: float, end: float, text: str, truncated: bool,
                 words: list[Word] | None = None, language: str | None = None,
                 language_probability: float | None = None) -> Segment:
    """A result segment with its tags, speech emotion and words (``words`` clip-relative)."""
    timed = place_words(words or [], start, end)
    a = annotate(text, start, end, timed)
    return Segment(
        id=seg_id, start=start, end=end, text=text, emotion=a.emotion,
        valence=a.valence, arousal=a.arousal, tags=a.tags, emotion_track=a.track,
        words=timed, truncated=truncated, language=language, language_probability=language_probability,
    )


def recording_language(segments: list[Segment], asked: str) -> tuple[str, float | None]:
    """The recording's language: the one asked for, or (``auto``) the one spoken longest over
    the segments, with the duration-weighted mean of their detection probabilities."""
    if asked != "auto":
        return asked, None
    spoken: dict[str, float] = defaultdict(float)
    weighted: dict[str, float] = defaultdict(float)
    for seg in segments:
        if seg.language and seg.text:
            spoken[seg.language] += seg.end - seg.start
            weighted[seg.language] += (seg.end - seg.start) * (seg.language_probability or 0.0)
    if not spoken:
        return "auto", None  # nothing was said
    best = max(spoken, key=lambda k: spoken[k])
    return best, round(weighted[best] / max(spoken[best], 1e-9), 4)


def _prior(segments: list[Segment]) -> str | None:
    """The recording's language so far (confident segments only weigh in via the engine)."""
    lang, _ = recording_language(segments, "auto")
    return None if lang == "auto" else lang


def transcribe_audio(
    samples: np.ndarray,
    engine: SpeechEngine,
    vad_cfg: VadSettings,
    language: str,
    on_batch: Callable[[list[Segment], int, int], None] | None = None,
    task: str = "transcribe",
) -> list[Segment]:
    """Every speech segment of the audio, each transcribed on its own time range.

    ``on_batch(new_segments, done, total)`` runs after each engine batch.
    """
    if vad_cfg.merge_gap_s is None:
        vad_cfg = vad_cfg.model_copy(update={"merge_gap_s": engine.default_merge_gap_s})
    spans = vad.detect(samples, vad_cfg)
    segments: list[Segment] = []
    i = 0
    while i < len(spans):
        # Read each time: the engine's batch shrinks after an out-of-memory and grows back.
        batch = spans[i : i + max(engine.segments_per_call, 1)]
        i += len(batch)
        outs = engine.transcribe([cut(samples, a, b) for a, b in batch], language, task,
                                 _prior(segments) if language == "auto" else None)
        new = [
            make_segment(len(segments) + k + 1, a, b, out.text, out.truncated, out.words,
                         out.language or (None if language == "auto" else language), out.language_probability)
            for k, ((a, b), out) in enumerate(zip(batch, outs, strict=True))
        ]
        segments += new
        if on_batch:
            on_batch(new, len(segments), len(spans))
    return segments
