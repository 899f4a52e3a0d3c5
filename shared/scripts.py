"""Joining pieces of transcript text in scripts written with and without spaces.

Chinese and Japanese (Han, kana) put no space between words; every other script Whisper
writes, Korean's Hangul included, does. Two segments' texts are joined with a space unless the
nearest letter on either side of the boundary is Han or kana, so ``该项目于20`` + ``11年``
reads ``该项目于2011年`` (digits and punctuation at the boundary look past themselves to the
letters around them) while ``I paid 20`` + ``11 people`` keeps its space.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SPACELESS = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def _nearest_letter(text: str, backwards: bool) -> str | None:
    for ch in reversed(text) if backwards else text:
        if ch.isalpha():
            return ch
    return None


def spaceless(ch: str | None) -> bool:
    """True for a Han or kana character (a script written without spaces between words)."""
    return ch is not None and bool(_SPACELESS.match(ch))


def needs_space(left: str, right: str) -> bool:
    """Whether a space goes between ``left`` and ``right`` (see the module text)."""
    return not (spaceless(_nearest_letter(left, True)) or spaceless(_nearest_letter(right, False)))


def join_texts(texts: Iterable[str]) -> str:
    """The non-empty texts, stripped, joined with a space where the scripts want one."""
    out = ""
    for t in texts:
        t = t.strip()
        if not t:
            continue
        out = f"{out} {t}" if out and needs_space(out[-40:], t[:40]) else out + t
    return out
