"""Transcript text joined and split in scripts written without spaces (Han, kana)."""

from __future__ import annotations

from shared.schemas import Segment, SpeakerTurn
from shared.scripts import join_texts, needs_space
from workers.cpu.speakers import split_segment


def test_chinese_and_japanese_pieces_join_without_a_space() -> None:
    assert join_texts(["桥下垂直净空15米。该项目于20", "11年8月完工"]) == "桥下垂直净空15米。该项目于2011年8月完工"
    assert join_texts(["復興努力に対する", "リベラル派からの批判"]) == "復興努力に対するリベラル派からの批判"
    assert join_texts(["我们用", "Python 写"]) == "我们用Python 写"  # a Han letter on one side
    assert not needs_space("完工。", "但直到")  # punctuation looks past itself to the letters


def test_other_scripts_keep_their_spaces() -> None:
    assert join_texts(["I paid 20", "11 people came."]) == "I paid 20 11 people came."
    assert join_texts(["그는 이리저리", "피하면서 걸어갔다."]) == "그는 이리저리 피하면서 걸어갔다."  # Hangul: spaced
    assert join_texts(["Привет,", " мир "]) == "Привет, мир"
    assert join_texts(["", "  one ", "", "two"]) == "one two"
    assert join_texts(["42", "17"]) == "42 17"  # no letters either side: a space


def test_a_chinese_segment_without_word_times_splits_by_time_at_a_character() -> None:
    text = "该项目于二零一一年八月完工但直到二零一七年三月才开始通车"
    seg = Segment(id=1, speaker="SPEAKER_00", start=0.0, end=10.0, text=text, emotion="Neutral",
                  valence=0.0, arousal=0.0, words=[])
    turns = [SpeakerTurn(speaker="a", start=0.0, end=5.0), SpeakerTurn(speaker="b", start=5.0, end=10.0)]
    out = split_segment(seg, turns)
    assert [s.speaker for s in out] == ["a", "b"]
    assert "".join(s.text for s in out) == text and all(len(s.text) >= 10 for s in out)
