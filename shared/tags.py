"""The one tag table and the rules that turn tags into emotion (README, "Result").

The API serves this table and the emotion colours to the Studio (``GET /v1/tags``); nothing
else holds a copy.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from shared.schemas import EmotionPoint, TagHit, TagRow, TagTable, Word


@dataclass(frozen=True)
class TagEmotion:
    emotion: str
    valence: float
    arousal: float


_ROWS: list[tuple[tuple[str, ...], str, float, float]] = [
    (("laughs", "laughing"), "Happy", 0.70, 0.60),
    (("chuckles",), "Happy", 0.50, 0.30),
    (("giggles",), "Happy", 0.60, 0.40),
    (("claps", "applause"), "Happy", 0.60, 0.50),
    (("sighs", "sighing"), "Sad", -0.30, -0.30),
    (("cries", "crying"), "Sad", -0.70, 0.40),
    (("sad",), "Sad", -0.60, -0.20),
    (("mumbles",), "Sad", -0.20, -0.30),
    (("whispers", "whispering"), "Calm", 0.10, -0.50),
    (("calm",), "Calm", 0.20, -0.40),
    (("shouts", "shouting"), "Angry", -0.50, 0.80),
    (("angry",), "Angry", -0.60, 0.70),
    (("frustrated",), "Frustrated", -0.50, 0.50),
    (("exclaims", "excited"), "Excited", 0.50, 0.70),
    (("gasps",), "Surprised", 0.20, 0.70),
    (("hesitates",), "Anxious", -0.20, 0.30),
    (("stutters",), "Anxious", -0.20, 0.40),
    (("stammers",), "Anxious", -0.25, 0.35),
    (("nervous",), "Anxious", -0.30, 0.40),
    (("laughs nervously",), "Anxious", -0.10, 0.40),
    (("screams", "screaming"), "Anxious", -0.60, 0.90),
    (("coughs", "coughing"), "Neutral", 0.00, 0.10),
    (("sneezes", "sneezing"), "Neutral", 0.00, 0.10),
    (("clears throat",), "Neutral", 0.00, 0.10),
    (("pause",), "Neutral", 0.00, -0.10),
]

# The vocal-events detector (workers/vocal): the tag it writes → the AudioSet classes (YAMNet's
# display names) that stand for it. Every tag here is in the table above.
AUDIOSET_TAGS: dict[str, tuple[str, ...]] = {
    "laughs": ("Laughter", "Baby laughter", "Giggle", "Snicker", "Belly laugh", "Chuckle, chortle"),
    "crying": ("Crying, sobbing", "Baby cry, infant cry", "Whimper", "Wail, moan"),
    "sighs": ("Sigh",),
    "gasps": ("Gasp",),
    "screams": ("Screaming",),
    "shouts": ("Shout", "Yell", "Children shouting"),
    "whispers": ("Whispering",),
    "coughs": ("Cough",),
    "sneezes": ("Sneeze",),
    "clears throat": ("Throat clearing",),
}
# Context events: kept in the result's events with no emotion, never written into the text.
AUDIOSET_CONTEXT: dict[str, tuple[str, ...]] = {
    "music": ("Music",),
    "applause": ("Applause", "Clapping"),
    "cheering": ("Cheering",),
}

TAG_TABLE: dict[str, TagEmotion] = {
    name: TagEmotion(emotion, valence, arousal)
    for names, emotion, valence, arousal in _ROWS
    for name in names
}
NEUTRAL = "Neutral"
# One colour per label, speech emotions and the face classes alike.
COLOURS: dict[str, str] = {
    "Happy": "#f5c542", "Sad": "#5b8def", "Angry": "#ef5b5b", "Anger": "#ef5b5b",
    "Calm": "#5bd6c0", "Anxious": "#c58af9", "Fear": "#c58af9", "Surprised": "#ff9f43",
    "Surprise": "#ff9f43", "Excited": "#ff6fb5", "Frustrated": "#e07b39", "Disgust": "#e07b39",
    "Contempt": "#e07b39", "Neutral": "#9aa3b5",
}
TAG_RE = re.compile(r"\[([^\[\]\n]{1,40})\]")


def normalize(tag: str) -> str:
    """Lower-case, trimmed, inner whitespace collapsed."""
    return " ".join(tag.strip().lower().split())


def lookup(tag: str) -> TagEmotion | None:
    """The table row for a tag, or None when the tag is unknown."""
    return TAG_TABLE.get(normalize(tag))


def find_tags(text: str, start: float, end: float, words: Sequence[Word] = ()) -> list[TagHit]:
    """Every ``[tag]`` in a segment's text, with its character offset and time.

    With timed words (absolute seconds) the time comes from the neighbouring words: the
    start of the word that holds the tag (an engine that times a tag as a word), else the end
    of the last word before it, else the segment's start. Without words (or when none can be
    found in the text) it is the tag's character offset as a fraction of the text's length,
    applied to the segment's time range.
    """
    hits: list[TagHit] = []
    spans = word_spans(text, words)
    length = max(len(text), 1)
    span = max(end - start, 0.0)
    for m in TAG_RE.finditer(text):
        name = normalize(m.group(1))
        if not name:
            continue
        row = TAG_TABLE.get(name)
        if spans:
            time = min(max(time_from_words(m.start(), spans, start), start), end)
        else:
            time = start + span * m.start() / length
        hits.append(
            TagHit(
                tag=name,
                char=m.start(),
                time=round(time, 3),
                emotion=row.emotion if row else None,
                valence=row.valence if row else None,
                arousal=row.arousal if row else None,
            )
        )
    return hits


def word_spans(text: str, words: Sequence[Word]) -> list[tuple[int, int, Word]]:
    """Each word's character range in the text, found left to right (words not found skip)."""
    spans: list[tuple[int, int, Word]] = []
    cursor = 0
    for w in words:
        token = w.word.strip()
        at = text.find(token, cursor) if token else -1
        if at < 0:
            continue
        spans.append((at, at + len(token), w))
        cursor = at + len(token)
    return spans


def time_from_words(char: int, spans: list[tuple[int, int, Word]], start: float) -> float:
    """The time at a character offset, from the words around it (see ``find_tags``)."""
    before: Word | None = None
    for a, b, w in spans:
        if a <= char < b:
            return w.start
        if b > char:
            break
        before = w
    return before.end if before else start


def segment_emotion(tags: list[TagHit]) -> tuple[str, float, float]:
    """Segment label, valence, arousal from its tags.

    Neutral tags count only when no other known tag is present; valence and arousal are the
    means over counted tags; the label is the most frequent counted emotion, ties going to
    the emotion with the strongest arousal.
    """
    known = [t for t in tags if t.emotion is not None]
    counted = [t for t in known if t.emotion != NEUTRAL] or known
    if not counted:
        return NEUTRAL, 0.0, 0.0
    valence = sum(t.valence or 0.0 for t in counted) / len(counted)
    arousal = sum(t.arousal or 0.0 for t in counted) / len(counted)
    counts = Counter(t.emotion for t in counted)
    top = max(counts.values())
    strongest: dict[str, float] = {}
    for t in counted:
        emotion = t.emotion or NEUTRAL
        if counts[emotion] == top:
            strongest[emotion] = max(strongest.get(emotion, -9.0), t.arousal or 0.0)
    label = max(strongest, key=lambda e: strongest[e])
    return label, round(valence, 3), round(arousal, 3)


def emotion_track(tags: list[TagHit]) -> list[EmotionPoint]:
    """The segment rule applied to the tags heard up to each tag's time."""
    heard = sorted(tags, key=lambda t: t.time)
    out = []
    for i, tag in enumerate(heard, 1):
        emotion, valence, arousal = segment_emotion(heard[:i])
        out.append(EmotionPoint(time=tag.time, emotion=emotion, valence=valence, arousal=arousal))
    return out


@dataclass(frozen=True)
class Annotation:
    """What a segment's text says about emotion: its tags, the segment rule, the track."""

    tags: list[TagHit]
    emotion: str
    valence: float
    arousal: float
    track: list[EmotionPoint]


def annotate(text: str, start: float, end: float, words: Sequence[Word] = ()) -> Annotation:
    """Tags found in the text (timed from ``words`` in absolute seconds), the segment's
    emotion by the rule, and its emotion track: what the engine output and a correction get."""
    tags = find_tags(text, start, end, words)
    emotion, valence, arousal = segment_emotion(tags)
    return Annotation(tags, emotion, valence, arousal, emotion_track(tags))


def table_rows() -> TagTable:
    """The table and the colours as the API serves them."""
    rows = []
    for names, e, v, a in _ROWS:
        detected = next((t for t in names if t in AUDIOSET_TAGS), None)
        rows.append(TagRow(tags=list(names), emotion=e, valence=v, arousal=a,
                           audioset=list(AUDIOSET_TAGS[detected]) if detected else [],
                           detector_tag=detected))
    context = {k: list(v) for k, v in AUDIOSET_CONTEXT.items()}
    return TagTable(tags=rows, colours=COLOURS, context=context)
