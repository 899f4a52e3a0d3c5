"""The tag table and the segment-emotion rules (README, "Result")."""

from __future__ import annotations

import pytest

from shared.schemas import Word
from shared.tags import TAG_TABLE, emotion_track, find_tags, lookup, segment_emotion, table_rows

EVOXTRAL_TAGS = ["excited", "sad", "angry", "nervous", "calm", "frustrated", "laughs", "sighs",
                 "gasps", "clears throat", "crying", "whispers", "shouts", "stammers", "pause"]


def test_every_trained_tag_is_in_the_table() -> None:
    assert all(t in TAG_TABLE for t in EVOXTRAL_TAGS)


@pytest.mark.parametrize(("tag", "emotion", "valence", "arousal"), [
    ("laughs", "Happy", 0.7, 0.6), ("LAUGHING", "Happy", 0.7, 0.6), (" sighs ", "Sad", -0.3, -0.3),
    ("laughs nervously", "Anxious", -0.1, 0.4), ("Clears  Throat", "Neutral", 0.0, 0.1),
    ("shouting", "Angry", -0.5, 0.8), ("gasps", "Surprised", 0.2, 0.7),
])
def test_lookup_is_case_and_space_insensitive(tag: str, emotion: str, valence: float, arousal: float) -> None:
    row = lookup(tag)
    assert row is not None and (row.emotion, row.valence, row.arousal) == (emotion, valence, arousal)


def test_find_tags_offsets_and_times() -> None:
    text = "Welcome to the show. [laughs] Thanks [unknown thing]"
    tags = find_tags(text, 10.0, 20.0)
    assert [t.tag for t in tags] == ["laughs", "unknown thing"]
    assert tags[0].char == text.index("[laughs]")
    assert tags[0].time == pytest.approx(10.0 + 10.0 * text.index("[laughs]") / len(text), abs=1e-3)
    assert tags[0].emotion == "Happy"
    assert tags[1].emotion is None and tags[1].valence is None


def test_no_tags_is_neutral() -> None:
    assert segment_emotion([]) == ("Neutral", 0.0, 0.0)
    assert segment_emotion(find_tags("[mystery]", 0, 1)) == ("Neutral", 0.0, 0.0)


def test_leading_pause_does_not_hide_later_tags() -> None:
    tags = find_tags("[pause] well [laughs] and [laughs] then [sighs]", 0, 5)
    label, valence, arousal = segment_emotion(tags)
    assert label == "Happy"
    assert valence == pytest.approx((0.7 + 0.7 - 0.3) / 3, abs=1e-3)
    assert arousal == pytest.approx((0.6 + 0.6 - 0.3) / 3, abs=1e-3)


def test_neutral_tags_count_when_alone() -> None:
    label, valence, arousal = segment_emotion(find_tags("[pause] hmm [clears throat]", 0, 2))
    assert label == "Neutral"
    assert valence == 0.0 and arousal == pytest.approx(0.0, abs=1e-3)


def test_ties_go_to_strongest_arousal() -> None:
    # Sad (sighs, arousal -0.3) vs Angry (shouts, 0.8): one each, Angry wins.
    assert segment_emotion(find_tags("[sighs] no [shouts]", 0, 2))[0] == "Angry"


def test_table_served_to_clients_matches() -> None:
    table = table_rows()
    flat = {n: (r.emotion, r.valence, r.arousal) for r in table.tags for n in r.tags}
    assert flat == {k: (v.emotion, v.valence, v.arousal) for k, v in TAG_TABLE.items()}
    # Every label a segment or a face can carry has a colour.
    assert {v.emotion for v in TAG_TABLE.values()} <= set(table.colours)
    assert {"Anger", "Contempt", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"} <= set(table.colours)


def test_emotion_track_applies_the_segment_rule_to_the_tags_heard_so_far() -> None:
    tags = find_tags("[pause] so [laughs] and then [sighs] [sighs]", 0.0, 10.0)
    track = emotion_track(tags)
    assert [p.time for p in track] == sorted(t.time for t in tags)
    assert [p.emotion for p in track] == ["Neutral", "Happy", "Happy", "Sad"]
    assert (track[-1].emotion, track[-1].valence, track[-1].arousal) == segment_emotion(tags)


def _w(word: str, start: float, end: float) -> Word:
    return Word(word=word, start=start, end=end, probability=0.9)


def test_tag_times_come_from_neighbouring_words() -> None:
    text = "[sighs] well I [laughs] never did [pause]"
    words = [_w("well", 10.5, 10.9), _w("I", 11.0, 11.2), _w("never", 13.0, 13.4), _w("did", 13.4, 13.8)]
    tags = find_tags(text, 10.0, 15.0, words)
    assert [t.tag for t in tags] == ["sighs", "laughs", "pause"]
    # Before every word: the segment's start; between words: the end of the word before it
    # (not the 10 + 5 × 15/41 = 11.83 s the character estimate would give); at the end: the last word's end.
    assert [t.time for t in tags] == [10.0, 11.2, 13.8]
    assert [t.char for t in tags] == [0, text.index("[laughs]"), text.index("[pause]")]


def test_a_tag_timed_as_a_word_takes_that_word_s_start() -> None:
    tags = find_tags("so [laughs] yes", 0.0, 4.0, [_w("so", 0.2, 0.5), _w("[laughs]", 0.9, 1.6), _w("yes", 1.7, 2.0)])
    assert tags[0].time == 0.9


def test_tag_times_stay_inside_the_segment() -> None:
    tags = find_tags("word [laughs]", 5.0, 6.0, [_w("word", 5.2, 7.5)])
    assert tags[0].time == 6.0


def test_words_not_in_the_text_fall_back_to_the_character_estimate() -> None:
    text = "hello [laughs] there"
    with_foreign_words = find_tags(text, 0.0, 2.0, [_w("bonjour", 0.1, 0.4)])
    assert with_foreign_words[0].time == find_tags(text, 0.0, 2.0)[0].time
    assert with_foreign_words[0].time == pytest.approx(2.0 * text.index("[laughs]") / len(text), abs=1e-3)
