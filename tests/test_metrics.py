"""The evaluation metrics on constructed reference/hypothesis pairs."""

from __future__ import annotations

import pytest

from evaluation.metrics import (
    cer,
    hallucination,
    normalise,
    tag_counts,
    tag_report,
    tags_of,
    wer,
)


def test_normalise_strips_tags_case_and_punctuation() -> None:
    assert normalise("And so, my fellow Americans: [sighs] ask not!") == "and so my fellow americans ask not"
    assert normalise("Don't stop — it's well-known.") == "don't stop it's well known"
    assert normalise("[laughs]") == ""


def test_wer_counts_substitutions_deletions_insertions() -> None:
    ref = "ask not what your country can do for you"
    assert wer(ref, "Ask not what your country can do for you.") == 0.0
    assert wer(ref, "ask what your country can do for you") == pytest.approx(1 / 9)
    assert wer(ref, "ask not what your county can do for you") == pytest.approx(1 / 9)
    assert wer(ref, "ask not what your country can do for you now") == pytest.approx(1 / 9)
    assert wer(ref, "") == 1.0
    assert wer("", "") == 0.0
    assert wer("[laughs] hello", "hello [sighs]") == 0.0


def test_cer() -> None:
    assert cer("hello", "hallo") == pytest.approx(1 / 5)
    assert cer("Hello!", "hello") == 0.0


def test_thousands_separators_go_and_numbers_stay_digits_without_a_language() -> None:
    for written in ("3.061", "3,061", "3 061", "3\u202f061"):
        assert normalise(f"Mon chiffre préféré est {written}.") == "mon chiffre préféré est 3061"
    assert normalise("1,000,000 euros") == "1000000 euros"
    assert normalise("2,5 km") == normalise("2.5 km") == "2 5 km"  # decimals: same on both sides
    assert normalise("in 2011 300 people, 1, 2, 3") == "in 2011 300 people 1 2 3"  # not groups
    assert cer("Meine Lieblingszahl ist 268", "Meine Lieblingszahl ist zweihundertachtundsechzig") > 0.3


def test_numbers_are_spelled_out_in_the_clips_language() -> None:
    assert normalise("Meine Lieblingszahl ist 268", "de") == "meine lieblingszahl ist zweihundertachtundsechzig"
    assert cer("Meine Lieblingszahl ist 268", "Meine Lieblingszahl ist zweihundertachtundsechzig.", "de") == 0.0
    assert cer("Mon chiffre préféré 3061.", "Mon chiffre préféré, 3 061", "fr") == 0.0  # digits both sides
    assert cer("Mon chiffre préféré 3061.", "Mon chiffre préféré trois mille soixante et un", "fr") == 0.0
    assert wer("Que tal 607", "Que tal seiscentos e sete", "pt") == 0.0
    assert wer("Que tal 607", "Que tal seiscentos e oito", "pt") == pytest.approx(1 / 5)
    assert normalise("Il mio numero preferito è 26.", "it-IT") == "il mio numero preferito è ventisei"
    assert normalise("в 1990 году", "ru") == "в одна тысяча девятьсот девяносто году"
    assert cer("2011年に", "二千十一年に", "ja") == 0.0
    assert cer("삼십 명", "30 명", "ko") == 0.0
    # Chinese (no num2words converter) and clips without a language keep their digits.
    assert normalise("2011 年", "zh") == "2011 年"
    assert normalise("268", None) == "268"


def test_a_percent_sign_is_read_as_the_clips_language_says_it() -> None:
    ref = "ne peut être prédit avec cent pour cent de certitude"  # FLEURS fr, spelled out
    assert cer(ref, "ne peut être prédit avec 100% de certitude", "fr") == 0.0
    assert cer(ref, "ne peut être prédit avec 100 % de certitude.", "fr") == 0.0
    assert cer("mit 12 % Wahrscheinlichkeit", "mit zwölf Prozent Wahrscheinlichkeit", "de") == 0.0
    assert normalise("un 50% de los votos", "es") == normalise("un cincuenta por ciento de los votos", "es")
    assert cer("五十パーセントです", "50％です", "ja") == 0.0  # full width: NFKC makes it %
    assert cer("10퍼센트", "10%", "ko") == 0.0
    # Both sides alike: a sign against a sign is still right, a wrong number still wrong.
    assert cer("avec 100% de certitude", "avec 100 % de certitude", "fr") == 0.0
    assert cer("avec 100% de certitude", "avec 90% de certitude", "fr") > 0.0
    # No word for the language (or no language): the sign goes with the punctuation, as before.
    assert normalise("на 5%", "ru") == "на пять"
    assert normalise("grew 5%") == "grew 5"


def test_chinese_is_scored_in_simplified_characters_by_character() -> None:
    assert normalise("廣州市房地產") == "广州市房地产"
    assert cer("广州市房地产中介协会分析", "廣州市房地產中介協會分析。") == 0.0
    assert cer("广州市房地产中介协会分析", "广州市 佛地产中介协会分析") == pytest.approx(1 / 12)
    assert normalise("復興努力に対する") == "復興努力に対する"  # Japanese (kana): kanji untouched


def test_tag_counts_are_multisets() -> None:
    c = tag_counts("a [laughs] b [laughs] c [sighs]", "a [Laughs ] b [gasps]")
    assert (c["laughs"].tp, c["laughs"].fp, c["laughs"].fn) == (1, 0, 1)
    assert (c["sighs"].tp, c["sighs"].fn) == (0, 1)
    assert (c["gasps"].tp, c["gasps"].fp) == (0, 1)
    assert tags_of("x [clears  throat] y") == ["clears throat"]


def test_micro_f1_and_macro_over_tagged_clips_only() -> None:
    pairs = [
        ("hello [laughs]", "hello [laughs]"),  # tp 1
        ("no tags here", "no tags here"),  # no reference tags: not in the macro average
        ("oh [sighs] well [sighs]", "oh well"),  # fn 2
    ]
    rep = tag_report(pairs)
    assert (rep.micro.tp, rep.micro.fp, rep.micro.fn) == (1, 0, 2)
    assert rep.micro.precision == 1.0
    assert rep.micro.recall == pytest.approx(1 / 3)
    assert rep.micro.f1 == pytest.approx(0.5)
    assert rep.macro_clips == 2
    assert rep.macro_f1 == pytest.approx(0.5)  # (1.0 + 0.0) / 2, not (1 + 1 + 0) / 3
    assert set(rep.per_tag) == {"laughs", "sighs"}


def test_a_model_that_writes_no_tags_scores_zero() -> None:
    pairs = [("a [laughs]", "a"), ("b", "b"), ("c", "c"), ("d [sighs]", "d")]
    rep = tag_report(pairs)
    assert rep.micro.f1 == 0.0
    assert rep.macro_f1 == 0.0


def test_no_reference_tags_anywhere() -> None:
    rep = tag_report([("a", "a [laughs]")])
    assert rep.macro_f1 is None
    assert rep.micro.fp == 1 and rep.micro.f1 == 0.0


def test_hallucination_is_inserted_words_per_reference_word() -> None:
    assert hallucination("one two", "one two") == 0.0
    assert hallucination("one two", "one two three four") == 1.0
    assert hallucination("one two three four", "one two three four five") == pytest.approx(0.25)
