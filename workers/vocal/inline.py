"""Vocal events into the transcript: an event inside a speech segment becomes an inline tag.

The tag goes at the word boundary nearest (in time) to where the sound begins, so the tag
rule (tags → emotion, valence, arousal), the Studio's pills and chart, the exports and the
corrections treat it like any tag an engine wrote. An event outside every segment, and every
context event (music, applause), stays only in the result's ``events``. A tag the segment
already has near that time (Voxtral writes tags too) is not written twice: the event then
points at the segment and the engine's tag stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.schemas import Segment, VocalEvent, VocalOutput
from shared.tags import annotate, find_tags, word_spans

if TYPE_CHECKING:
    from workers.cpu.merge import Draft

SOURCE = "yamnet"
SAME_TAG_WINDOW_S = 1.5  # an engine's tag this close to the event is the same sound


@dataclass(frozen=True)
class Boundary:
    char: int  # where the tag goes in the text
    time: float
    before_first: bool = False


def boundaries(seg: Segment) -> list[Boundary]:
    """Places a tag can go: before the first word and after each word (by time)."""
    spans = word_spans(seg.text, seg.words)
    if spans:
        first = spans[0]
        out = [Boundary(first[0], first[2].start, before_first=True)]
        out += [Boundary(b, w.end) for _, b, w in spans]
        return out
    # No timed words: the spaces of the text, timed in proportion to the characters.
    text, span = seg.text, max(seg.end - seg.start, 0.0)
    length = max(len(text), 1)
    out = [Boundary(0, seg.start, before_first=True)]
    out += [Boundary(i, seg.start + span * i / length) for i, ch in enumerate(text) if ch == " "]
    out.append(Boundary(len(text.rstrip()), seg.end))
    return out


def owner(event: VocalEvent, segments: list[Segment], slack: float) -> Segment | None:
    """The segment an event falls in (most overlap, within ``slack`` of its range), if any."""
    best, best_overlap = None, -1.0
    for seg in segments:
        a, b = seg.start - slack, seg.end + slack
        overlap = min(event.end, b) - max(event.start, a)
        if overlap > 0 and event.start < b and overlap > best_overlap:
            best, best_overlap = seg, overlap
    return best


def _insert(text: str, where: Boundary, tag: str) -> tuple[str, int]:
    """The text with ``[tag]`` at the boundary, and the tag's character offset."""
    if where.before_first:
        return text[: where.char] + f"[{tag}] " + text[where.char :], where.char
    head, tail = text[: where.char], text[where.char :]
    sep = "" if not head or head.endswith(" ") else " "
    tail_sep = "" if not tail or tail.startswith(" ") else " "
    return head + sep + f"[{tag}]" + tail_sep + tail, len(head) + len(sep)


def place_events(segments: list[Segment], events: list[VocalEvent], slack: float = 0.5,
                 engine: str | None = None) -> list[VocalEvent]:
    """Write each vocal event into the segment it falls in (segments change in place).

    Returns the events, each with ``segment`` set where it belongs to one. Every segment that
    gained a tag gets its tags, emotion, valence, arousal and track recomputed; each tag's
    ``source`` says who wrote it (``yamnet`` or the engine).
    """
    out: list[VocalEvent] = []
    pending: dict[int, list[tuple[Boundary, str]]] = {}
    by_id = {seg.id: seg for seg in segments}
    for ev in sorted(events, key=lambda e: (e.start, e.end)):
        seg = owner(ev, segments, slack) if ev.tag else None
        if seg is None or ev.tag is None:
            out.append(ev.model_copy(update={"segment": None}))
            continue
        out.append(ev.model_copy(update={"segment": seg.id}))
        heard = [t for t in seg.tags or find_tags(seg.text, seg.start, seg.end, seg.words)]
        if any(t.tag == ev.tag and abs(t.time - ev.start) <= SAME_TAG_WINDOW_S for t in heard):
            continue  # the engine already wrote this sound
        where = min(boundaries(seg), key=lambda b: abs(b.time - ev.start))
        todo = pending.setdefault(seg.id, [])
        if any(b.char == where.char and t == ev.tag for b, t in todo):
            continue  # two runs of one sound at one place: one tag
        todo.append((where, ev.tag))
    for seg_id, todo in pending.items():
        _rewrite(by_id[seg_id], todo, engine)
    return out


def _rewrite(seg: Segment, todo: list[tuple[Boundary, str]], engine: str | None) -> None:
    """Insert the tags (right to left, so offsets hold), then re-annotate the segment."""
    text = seg.text
    ours: list[int] = []
    for where, tag in sorted(todo, key=lambda x: x[0].char, reverse=True):
        before = len(text)
        text, at = _insert(text, where, tag)
        grown = len(text) - before
        ours = [o + grown if o >= at else o for o in ours] + [at]
    seg.text = text
    ann = annotate(seg.text, seg.start, seg.end, seg.words)
    for hit in ann.tags:
        hit.source = SOURCE if hit.char in ours else engine
    seg.tags, seg.emotion, seg.valence, seg.arousal = ann.tags, ann.emotion, ann.valence, ann.arousal
    seg.emotion_track = ann.track


def merge_vocal(draft: Draft, outputs: list[VocalOutput]) -> None:
    """The vocal step's merge part: inline tags in the segments, every event in ``events``."""
    if not outputs:
        return
    from workers import handles

    stt = draft.models.get("stt")
    draft.fields["events"] = place_events(draft.segments, outputs[0].events,
                                          handles.settings().vocal.inline_slack_s,
                                          stt.engine if stt else None)
    draft.models["vocal"] = outputs[0].model
