"""Recognise media from its first bytes, and names that are safe to store."""

from __future__ import annotations

import unicodedata

# (offset, signature, mime type)
_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "video/x-ms-asf"),
    (0, b"#!AMR", "audio/amr"),
    (0, b"caff", "audio/x-caf"),
    (0, b".snd", "audio/basic"),
    (0, b"\x00\x00\x01\xba", "video/mpeg"),
    (0, b"\x00\x00\x01\xb3", "video/mpeg"),
    (0, b"FLV", "video/x-flv"),
    (4, b"ftyp", "video/mp4"),
    (4, b"moov", "video/quicktime"),
    (4, b"mdat", "video/quicktime"),
    (4, b"wide", "video/quicktime"),
]
_RIFF = {b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_FORM = {b"AIFF": "audio/aiff", b"AIFC": "audio/aiff"}


def sniff(head: bytes) -> str | None:
    """A media MIME type when the bytes carry a known signature, else None."""
    for off, sig, mime in _MAGIC:
        if head[off : off + len(sig)] == sig:
            return mime
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[:4] == b"FORM" and head[8:12] in _FORM:
        return _FORM[head[8:12]]
    if len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        return "audio/mpeg"  # MPEG audio frame sync (or ADTS AAC)
    if head[:1] == b"\x47" and len(head) > 188 and head[188:189] == b"\x47":
        return "video/mp2t"
    return None


def looks_like_text(head: bytes) -> bool:
    """True for bytes that decode as printable text: certainly not media."""
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a multibyte character cut at the end
            return False
        text = head[: e.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.97 * max(len(text), 1)


def display_name(raw: str | None, limit: int = 200) -> str:
    """The uploaded name as display text: no path, no control characters, bounded length."""
    name = (raw or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in ("", ".", ".."):
        name = "upload"
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: limit - len(ext) - 1] + ("." + ext if ext else "")
    return name

