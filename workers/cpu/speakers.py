"""Speakers in the result: each segment takes the speaker whose turns overlap it most, and a
segment is split where the speaker changes inside it (at word times where it has them), then
cut at sentence ends where it runs past 20 s (``workers.cpu.sentences``). Words and tags keep their times; the
speakers are named ``SPEAKER_00``, ``SPEAKER_01``… in order of first appearance. Where two people
talk at once (the diarize step's overlaps) a segment still has one speaker, the turns' one; the
overlaps go to the result beside the segments, renamed alike."""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared.schemas import Overlap, Segment, SpeakerInfo, SpeakerTurn, Word
from shared.scripts import spaceless
from shared.tags import word_spans
from workers.cpu.pieces import piece
from workers.cpu.sentences import split_long

DEFAULT = "SPEAKER_00"
MIN_PIECE_S = 0.5  # without word times, a change of speaker shorter than this is ignored


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def speaker_at(start: float, end: float, turns: Sequence[SpeakerTurn]) -> str:
    """The speaker overlapping [start, end] most; without overlap, the nearest turn's."""
    best, most = None, 0.0
    for t in turns:
        o = overlap(start, end, t.start, t.end)
        if o > most:
            best, most = t.speaker, o
    if best is not None:
        return best
    mid = (start + end) / 2
    return min(turns, key=lambda t: min(abs(t.start - mid), abs(t.end - mid))).speaker


def _pieces_by_time(seg: Segment, turns: Sequence[SpeakerTurn]) -> list[tuple[str, float, float]]:
    """The speakers along a segment without word times: its turns clipped to it, pieces
    shorter than MIN_PIECE_S given to a neighbour."""
    pieces: list[tuple[str, float, float]] = []
    for t in sorted(turns, key=lambda t: t.start):
        a, b = max(seg.start, t.start), min(seg.end, t.end)
        if b - a >= MIN_PIECE_S:
            if pieces and pieces[-1][0] == t.speaker:
                pieces[-1] = (t.speaker, pieces[-1][1], b)
            else:
                pieces.append((t.speaker, a, b))
    if not pieces:
        return [(speaker_at(seg.start, seg.end, turns), seg.start, seg.end)]
    # Borders between pieces fall midway through the gap; the ends are the segment's.
    out = []
    for i, (spk, _a, _b) in enumerate(pieces):
        a = seg.start if i == 0 else (pieces[i - 1][2] + pieces[i][1]) / 2
        b = seg.end if i + 1 == len(pieces) else (pieces[i][2] + pieces[i + 1][1]) / 2
        out.append((spk, a, b))
    return out


def _cut_at(text: str, pos: int) -> int:
    """A cut position at a word boundary near ``pos`` (the next space, else the previous); in
    Han or kana text, written without spaces, ``pos`` itself."""
    if pos <= 0 or pos >= len(text):
        return max(0, min(pos, len(text)))
    if spaceless(text[pos - 1]) or spaceless(text[pos]):
        return pos
    m = re.compile(r"\s").search(text, pos)
    if m:
        return m.start()
    back = text.rfind(" ", 0, pos)
    return back if back > 0 else len(text)


def split_segment(seg: Segment, turns: Sequence[SpeakerTurn]) -> list[Segment]:
    """The segment, or its pieces where the speaker changes (one speaker each)."""
    spans = word_spans(seg.text, seg.words)
    if spans:  # word times: each word takes its speaker, a piece per run of one speaker
        runs: list[tuple[str, list[tuple[int, int, Word]]]] = []
        for span in spans:
            spk = speaker_at(span[2].start, max(span[2].end, span[2].start + 0.01), turns)
            if runs and runs[-1][0] == spk:
                runs[-1][1].append(span)
            else:
                runs.append((spk, [span]))
        out = []
        for i, (spk, ws) in enumerate(runs):
            c0 = 0 if i == 0 else ws[0][0]
            c1 = len(seg.text) if i + 1 == len(runs) else runs[i + 1][1][0][0]
            # A piece runs from its first word to its last (the pause between two speakers
            # belongs to neither); the segment's own ends stay.
            t0 = seg.start if i == 0 else ws[0][2].start
            t1 = seg.end if i + 1 == len(runs) else max(ws[-1][2].end, t0)
            out.append(piece(seg, c0, c1, t0, t1, spk, [w for _, _, w in ws]))
        return out
    pieces = _pieces_by_time(seg, turns)
    if len(pieces) == 1:
        return [seg.model_copy(update={"speaker": pieces[0][0]})]
    dur = max(seg.end - seg.start, 1e-6)
    cuts = [0] + [_cut_at(seg.text, round(len(seg.text) * (a - seg.start) / dur)) for _, a, _ in pieces[1:]]
    cuts.append(len(seg.text))
    out = [piece(seg, cuts[i], cuts[i + 1], a, b, spk, [])
           for i, (spk, a, b) in enumerate(pieces) if seg.text[cuts[i] : cuts[i + 1]].strip()]
    return out or [seg.model_copy(update={"speaker": pieces[0][0]})]


def assign_speakers(segments: list[Segment], turns: Sequence[SpeakerTurn] | None
                    ) -> tuple[list[Segment], list[SpeakerInfo]]:
    """Segments with speakers (split where the speaker changes, renumbered from 1) and the
    speakers in order of first appearance. Without turns every segment is ``SPEAKER_00``."""
    out, speakers, _ = assign_with_overlaps(segments, turns, [])
    return out, speakers


def assign_with_overlaps(segments: list[Segment], turns: Sequence[SpeakerTurn] | None,
                         overlaps: Sequence[Overlap]) -> tuple[list[Segment], list[SpeakerInfo], list[Overlap]]:
    """As :func:`assign_speakers`, and the overlaps with the segments' speaker names (an
    overlap naming a speaker who has no segment is left out)."""
    if turns:
        pieces = [p for seg in segments for p in split_segment(seg, turns)]
    else:
        pieces = [seg.model_copy(update={"speaker": DEFAULT}) for seg in segments]
    pieces = [p for seg in pieces for p in split_long(seg)]
    names: dict[str, str] = {}
    for p in pieces:
        names.setdefault(p.speaker, f"SPEAKER_{len(names):02d}")
    totals: dict[str, float] = {}
    out = []
    for i, p in enumerate(pieces, 1):
        spk = names[p.speaker]
        totals[spk] = totals.get(spk, 0.0) + (p.end - p.start)
        out.append(p.model_copy(update={"id": i, "speaker": spk}))
    named = [o.model_copy(update={"speakers": [names[s] for s in o.speakers]})
             for o in overlaps if all(s in names for s in o.speakers)] if turns else []
    return out, [SpeakerInfo(id=k, total_speech_s=round(v, 3)) for k, v in totals.items()], named
