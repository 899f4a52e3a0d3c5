"""Segments that read like a dialogue: one speaker each, long ones cut at sentence ends."""

from __future__ import annotations

from shared.schemas import Segment, SpeakerTurn, Word
from workers.cpu.sentences import MAX_SEGMENT_S, split_long
from workers.cpu.speakers import assign_speakers


def _words(sentences: list[tuple[str, float]]) -> tuple[str, list[Word]]:
    """A text of sentences, each given as (text, seconds), its words evenly timed from 0."""
    words, t = [], 0.0
    for text, secs in sentences:
        toks = text.split()
        for tok in toks:
            words.append(Word(word=" " + tok, start=round(t, 3), end=round(t + secs / len(toks) * 0.9, 3),
                              probability=0.9))
            t += secs / len(toks)
    return " ".join(s for s, _ in sentences), words


def _seg(text: str, words: list[Word], speaker: str = "SPEAKER_00") -> Segment:
    return Segment(id=1, speaker=speaker, start=words[0].start, end=words[-1].end, text=text,
                   emotion="Neutral", valence=0.0, arousal=0.0, words=words)


def test_a_long_segment_is_cut_at_sentence_ends() -> None:
    text, words = _words([("One two three four five six.", 12.0), ("Seven eight nine ten?", 12.0),
                          ("Eleven twelve thirteen!", 12.0), ("Fourteen fifteen", 6.0)])
    out = split_long(_seg(text, words))
    assert [s.text for s in out] == ["One two three four five six.", "Seven eight nine ten?",
                                     "Eleven twelve thirteen! Fourteen fifteen"]
    assert all(s.end - s.start <= MAX_SEGMENT_S for s in out)
    assert " ".join(s.text for s in out) == text and sum(len(s.words) for s in out) == len(words)
    assert out[1].start == words[6].start and out[0].start == 0.0


def test_a_long_sentence_stays_whole_and_short_segments_are_untouched() -> None:
    text, words = _words([("a " * 40 + "end.", 30.0)])
    assert split_long(_seg(text, words)) == [_seg(text, words)]
    text, words = _words([("Short one.", 3.0), ("Another.", 3.0)])
    assert len(split_long(_seg(text, words))) == 1
    # A sentence end only past the limit: the cut comes there (the first piece is longer).
    text, words = _words([("x " * 30 + "y.", 25.0), ("Then more words here.", 5.0)])
    out = split_long(_seg(text, words))
    assert [len(s.words) for s in out] == [31, 4]


def test_no_segment_spans_two_speakers_and_none_runs_past_20_s() -> None:
    text, words = _words([("Hello there how are you.", 4.0), ("Fine thanks and you?", 4.0)]
                         + [(f"Sentence number {i} goes on for a while.", 8.0) for i in range(6)])
    turns = [SpeakerTurn(speaker="a", start=0.0, end=4.0), SpeakerTurn(speaker="b", start=4.0, end=56.0)]
    out, speakers = assign_speakers([_seg(text, words)], turns)
    assert [s.speaker for s in out][:2] == ["SPEAKER_00", "SPEAKER_01"]
    assert all(s.end - s.start <= MAX_SEGMENT_S for s in out)
    assert len({s.speaker for s in out[1:]}) == 1 and len(out) >= 4
    assert [s.id for s in out] == list(range(1, len(out) + 1))
    assert len(speakers) == 2
