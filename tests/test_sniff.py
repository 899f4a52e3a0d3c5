"""Upload sniffing and safe names."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.sniff import display_name, looks_like_text, sniff


def test_real_media_is_recognised(jfk: Path, yongen: Path) -> None:
    assert sniff(jfk.read_bytes()[:64]) == "audio/flac"
    assert sniff(yongen.read_bytes()[:64]) == "video/mp4"
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "audio/wav"


def test_text_is_not_media_but_random_bytes_are_undecided() -> None:
    assert looks_like_text("Meeting notes – café ☕\n".encode() * 50)
    assert sniff(b"hello world") is None
    assert not looks_like_text(b"\x00\x01\x02binary")


@pytest.mark.parametrize(("raw", "expected"), [
    ("../../x", "x"), ("C:\\Users\\me\\talk.mp3", "talk.mp3"), ("a\x00b\x1fc.wav", "abc.wav"),
    ("", "upload"), ("..", "upload"), (None, "upload"),
])
def test_display_name(raw: str | None, expected: str) -> None:
    assert display_name(raw) == expected


def test_long_names_keep_their_extension() -> None:
    name = display_name("a" * 1000 + ".flac")
    assert len(name) <= 200 and name.endswith(".flac")
