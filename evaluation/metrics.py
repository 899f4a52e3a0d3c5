"""Pure transcript metrics: word and character error rates, tag precision/recall/F1.

Text normalisation for WER/CER (stated once, used everywhere):
1. inline ``[tags]`` are removed (the tag rule of ``shared.tags``);
2. Unicode NFKC, lower case;
3. thousands separators go: in a number of one to three digits followed by groups of exactly
   three, each ``.``, ``,`` or (narrow) space between the groups is dropped, so ``3.061`` =
   ``3,061`` = ``3 061`` = ``3061`` whatever the language's convention (a decimal ``2,5`` /
   ``2.5`` becomes ``2 5`` on both sides by rule 4);
   then, when the clip's language is known (``language=``, e.g. the manifest's ``language``),
   every run of digits is spelled out as a cardinal in that language with ``num2words``
   (LGPL-2.1; de, es, fr, it, pt, ru, ja, ko, en and about 50 more), on the reference and the
   hypothesis alike, so ``268`` = ``zweihundertachtundsechzig`` and ``2011年`` = ``二千十一年``.
   A decimal ``2,5`` becomes two cardinals ("zwei fünf") on both sides; ordinals and other
   digit forms are not special-cased. Languages num2words does not know (Chinese among them)
   and clips with no language keep their digits as written: there ``268`` against a spelled
   number still counts as errors. Likewise a percent sign (``%``, or ``％`` after NFKC) is
   spelled as the language's word, so ``100%`` = ``cent pour cent`` in French (de ``prozent``,
   en ``percent``, es ``por ciento``, fr ``pour cent``, it ``per cento``, pt ``por cento``,
   ja ``パーセント``, ko ``퍼센트``; in other languages, Russian with its case endings and
   Chinese with ``百分之`` before the number among them, the sign goes with the punctuation);
4. apostrophes inside words are kept (``don't``), every other character that is not a letter,
   a digit or whitespace becomes a space (so ``well-known`` is two words);
5. whitespace collapses to single spaces;
6. Chinese is compared in simplified characters: text with Han characters but no kana or
   Hangul (Chinese, not Japanese) is converted traditional → simplified on both sides with
   OpenCC's ``t2s`` tables (``opencc-python-reimplemented``, Apache-2.0), as Chinese ASR
   benchmarks do: Whisper writes Mandarin in either script, and ``廣州`` for ``广州`` is the
   same word;
7. for CER only, text in a script written without spaces between words (Chinese, Japanese;
   Korean too, whose spacing varies between writers) is scored by character with every space
   removed: a reference holding any Han, kana or Hangul character is "CJK".

Tags are compared as multisets per clip after the table's own normalisation (lower case,
trimmed): a hypothesis tag is a true positive while the reference still has an unmatched
tag of the same name. The headline is micro-averaged over all tags of all clips. The
per-clip macro average is taken only over clips whose reference has tags: a clip without
reference tags would otherwise score 1.0 for a model that writes no tags at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jiwer

from shared.tags import TAG_RE, normalize

_NOT_WORD = re.compile(r"[^\w\s'’]|_")
_LOOSE_APOSTROPHE = re.compile(r"(?<!\w)['’]|['’](?!\w)")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_GROUPED_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+(?![\d])")
_SEPARATOR = re.compile(r"[.,\u00a0\u202f ]")
_DIGITS = re.compile(r"\d+")
# The word a language reads ``%`` as, where it stands after the number like the sign does.
_PERCENT = {"de": "prozent", "en": "percent", "es": "por ciento", "fr": "pour cent", "it": "per cento",
            "pt": "por cento", "ja": "パーセント", "ko": "퍼센트"}
_T2S: Any = None


def is_cjk(text: str) -> bool:
    """True when the text holds Han, kana or Hangul characters (scored by character)."""
    return bool(_CJK.search(text))


def strip_tags(text: str) -> str:
    """The text with every ``[tag]`` removed and whitespace collapsed."""
    return " ".join(TAG_RE.sub(" ", text).split())


def is_chinese(text: str) -> bool:
    """True when the text holds Han characters and no kana or Hangul (not Japanese, not Korean)."""
    return bool(_HAN.search(text)) and not _KANA_HANGUL.search(text)


def to_simplified(text: str) -> str:
    """Traditional Chinese characters as simplified ones (OpenCC ``t2s``)."""
    global _T2S
    if _T2S is None:
        try:
            from opencc import OpenCC
        except ImportError as e:  # the eval extra has it
            raise RuntimeError("scoring Chinese needs opencc-python-reimplemented "
                               "(`pip install ethos[eval]`)") from e
        _T2S = OpenCC("t2s")
    return str(_T2S.convert(text))


def spell_numbers(text: str, language: str | None) -> str:
    """Every run of ASCII digits as a cardinal in ``language`` (``num2words``); the text
    unchanged when the language is None or one num2words does not know."""
    code = (language or "").replace("-", "_").split("_")[0].lower()
    if not code or not _DIGITS.search(text):
        return text
    try:
        from num2words import CONVERTER_CLASSES, num2words
    except ImportError as e:  # the eval extra has it
        raise RuntimeError("scoring numbers needs num2words (`pip install ethos[eval]`)") from e
    if code not in CONVERTER_CLASSES:
        return text

    def spell(m: re.Match[str]) -> str:
        digits = m.group(0)
        if len(digits) > 15:  # a code or an id, not a number anyone reads out
            return digits
        try:
            return f" {num2words(int(digits), lang=code).lower()} "
        except (NotImplementedError, OverflowError, ValueError, TypeError):
            return digits

    return _DIGITS.sub(spell, text)


def spell_percent(text: str, language: str | None) -> str:
    """Every ``%`` as the language's word for it (``_PERCENT``); the text unchanged when the
    language has none there."""
    word = _PERCENT.get((language or "").replace("-", "_").split("_")[0].lower())
    return text.replace("%", f" {word} ") if word else text


def normalise(text: str, language: str | None = None) -> str:
    """Tag-stripped text normalised for WER/CER (see the module docstring); ``language``: the
    clip's language, for spelling out numbers."""
    text = unicodedata.normalize("NFKC", strip_tags(text)).lower()
    text = _GROUPED_NUMBER.sub(lambda m: _SEPARATOR.sub("", m.group(0)), text)
    text = spell_percent(spell_numbers(text, language), language)
    if is_chinese(text):
        text = to_simplified(text)
    text = _NOT_WORD.sub(" ", text).replace("’", "'")
    text = _LOOSE_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())


def tags_of(text: str) -> list[str]:
    """The tags of a text, normalised, in order."""
    return [t for t in (normalize(m.group(1)) for m in TAG_RE.finditer(text)) if t]


@dataclass
class ErrorRates:
    """Word or character error counts of one clip (or summed over clips)."""

    errors: int = 0
    reference_len: int = 0
    insertions: int = 0

    @property
    def rate(self) -> float:
        if self.reference_len == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.reference_len

    def __add__(self, other: ErrorRates) -> ErrorRates:
        return ErrorRates(self.errors + other.errors, self.reference_len + other.reference_len,
                          self.insertions + other.insertions)


def word_errors(reference: str, hypothesis: str, language: str | None = None) -> ErrorRates:
    """Substitutions + deletions + insertions against the reference's word count."""
    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    n_ref = len(ref.split())
    if not ref or not hyp:
        n_hyp = len(hyp.split())
        return ErrorRates(n_ref + n_hyp, n_ref, n_hyp)
    out = jiwer.process_words(ref, hyp)
    return ErrorRates(out.substitutions + out.deletions + out.insertions, n_ref, out.insertions)


def char_errors(reference: str, hypothesis: str, language: str | None = None) -> ErrorRates:
    """Character edit errors (spaces included, except in CJK text) against the reference's
    character count."""
    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    if is_cjk(ref):
        ref, hyp = "".join(ref.split()), "".join(hyp.split())
    if not ref or not hyp:
        return ErrorRates(len(ref) + len(hyp), len(ref), len(hyp))
    out = jiwer.process_characters(ref, hyp)
    return ErrorRates(out.substitutions + out.deletions + out.insertions, len(ref), out.insertions)


def wer(reference: str, hypothesis: str, language: str | None = None) -> float:
    """Word error rate of one clip on normalised, tag-stripped text."""
    return word_errors(reference, hypothesis, language).rate


def cer(reference: str, hypothesis: str, language: str | None = None) -> float:
    """Character error rate of one clip on normalised, tag-stripped text."""
    return char_errors(reference, hypothesis, language).rate


@dataclass
class TagCounts:
    """True positives, false positives and false negatives of tags."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: TagCounts) -> TagCounts:
        return TagCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def tag_counts(reference: str, hypothesis: str) -> dict[str, TagCounts]:
    """Per-tag counts of one clip (multiset matching by tag name)."""
    ref, hyp = Counter(tags_of(reference)), Counter(tags_of(hypothesis))
    return {
        tag: TagCounts(tp=min(ref[tag], hyp[tag]), fp=max(hyp[tag] - ref[tag], 0),
                       fn=max(ref[tag] - hyp[tag], 0))
        for tag in sorted(set(ref) | set(hyp))
    }


def total(counts: Iterable[TagCounts]) -> TagCounts:
    """The sum of several counts."""
    out = TagCounts()
    for c in counts:
        out = out + c
    return out


@dataclass
class TagReport:
    """Tag scores over a set of clips."""

    micro: TagCounts
    macro_f1: float | None  # None when no reference has tags
    macro_clips: int
    per_tag: dict[str, TagCounts] = field(default_factory=dict)


def tag_report(pairs: Iterable[tuple[str, str]]) -> TagReport:
    """Micro, per-clip macro (clips with reference tags only) and per-tag scores."""
    per_tag: dict[str, TagCounts] = {}
    clip_f1: list[float] = []
    for reference, hypothesis in pairs:
        counts = tag_counts(reference, hypothesis)
        for tag, c in counts.items():
            per_tag[tag] = per_tag.get(tag, TagCounts()) + c
        if tags_of(reference):
            clip_f1.append(total(counts.values()).f1)
    return TagReport(
        micro=total(per_tag.values()),
        macro_f1=sum(clip_f1) / len(clip_f1) if clip_f1 else None,
        macro_clips=len(clip_f1),
        per_tag=dict(sorted(per_tag.items())),
    )


def hallucination(reference: str, hypothesis: str) -> float:
    """Inserted words per reference word (text the model made up), capped at 1."""
    e = word_errors(reference, hypothesis)
    return min(e.insertions / max(e.reference_len, 1), 1.0)
