"""Long segments cut at sentence ends, so a transcript reads in turns of readable length.

A segment longer than ``MAX_SEGMENT_S`` (20 s) is cut after a word that ends a sentence
(``.``, ``?``, ``!``, ``…``, a closing quote or bracket may follow), at the latest such end
that keeps the piece within the limit, else at the first one after it. Without word times or
without a sentence end inside, the segment stays whole. Pieces keep their words, tags and
speaker (``workers.cpu.pieces``).
"""

from __future__ import annotations

import re

from shared.schemas import Segment, Word
from shared.tags import word_spans
from workers.cpu.pieces import piece

MAX_SEGMENT_S = 20.0
SENTENCE_END = re.compile(r"[.?!…][\"'”’)\]]*$")


def sentence_cuts(text: str, spans: list[tuple[int, int, Word]]) -> list[int]:
    """Indices ``i`` into ``spans`` after which a sentence ends (never the last word)."""
    return [i for i, (_, end, _) in enumerate(spans[:-1]) if SENTENCE_END.search(text[:end])]


def split_long(seg: Segment, max_s: float = MAX_SEGMENT_S) -> list[Segment]:
    """The segment, or its pieces cut at sentence ends (see the module text)."""
    if seg.end - seg.start <= max_s:
        return [seg]
    spans = word_spans(seg.text, seg.words)
    ends = sentence_cuts(seg.text, spans)
    if not ends:
        return [seg]
    chosen: list[int] = []
    first, t0 = 0, seg.start
    while True:
        if seg.end - t0 <= max_s:
            break
        fits = [i for i in ends if i >= first and spans[i][2].end - t0 <= max_s]
        later = [i for i in ends if i >= first]
        if not later:
            break
        cut = fits[-1] if fits else later[0]
        chosen.append(cut)
        first, t0 = cut + 1, spans[cut + 1][2].start
    if not chosen:
        return [seg]
    out: list[Segment] = []
    bounds = [-1, *chosen, len(spans) - 1]
    for k in range(len(bounds) - 1):
        ws = spans[bounds[k] + 1 : bounds[k + 1] + 1]
        c0 = 0 if k == 0 else ws[0][0]
        c1 = len(seg.text) if k == len(bounds) - 2 else spans[bounds[k + 1] + 1][0]
        a = seg.start if k == 0 else ws[0][2].start
        b = seg.end if k == len(bounds) - 2 else max(ws[-1][2].end, a)
        out.append(piece(seg, c0, c1, a, b, seg.speaker, [w for _, _, w in ws]))
    return out
