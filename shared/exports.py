"""Exports of a result: SRT and WebVTT subtitles (one cue per segment), CSV of the segments
and CSV of the face timeline.

Speakers appear as their name, else their id (:func:`speaker_label`): always in the CSV;
in subtitles (SRT ``Name: text``, WebVTT ``<v Name>text``) when the recording has more than
one speaker or a speaker was named, so a one-voice transcript keeps plain cues.

Vocal events written into a segment's text travel with it. Events that stand on their own
(between segments: laughter, applause, music) are their own subtitle cues (``[laughs]``,
``[music]``) where no segment overlaps them, and their own CSV rows (``kind`` = ``event``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from shared.tags import lookup


def _ts(seconds: float, sep: str) -> str:
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def speaker_label(result: dict[str, Any], seg: dict[str, Any]) -> str:
    """The segment's speaker as exports show it: the name given to it, else its id."""
    spk = str(seg.get("speaker") or "")
    for info in result.get("speakers") or []:
        if info.get("id") == spk and info.get("name"):
            return str(info["name"])
    return spk


def _subtitle_speakers(result: dict[str, Any]) -> bool:
    """Whether subtitles name the speaker: two or more speakers, or a named one."""
    segs = result.get("segments", [])
    return len({s.get("speaker") for s in segs}) > 1 or any(
        info.get("name") for info in result.get("speakers") or [])


def _cue_text(seg: dict[str, Any]) -> str:
    text = " ".join(str(seg.get("text", "")).split()) or "…"
    return f"{text} ({seg['emotion']})" if seg.get("emotion") and seg["emotion"] != "Neutral" else text


def standalone_events(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result's events that no segment carries (``segment`` unset), in time order."""
    return sorted((e for e in result.get("events") or [] if e.get("segment") is None),
                  key=lambda e: (e["start"], e["end"]))


def event_text(event: dict[str, Any]) -> str:
    """How an event reads in an export: its tag, else its label (``[laughs]``, ``[music]``)."""
    return f"[{event.get('tag') or str(event.get('label', '')).lower()}]"


def _cues(result: dict[str, Any]) -> list[tuple[float, float, dict[str, Any] | None, str]]:
    """Segments and the standalone events no segment overlaps, in time order."""
    segs = result.get("segments", [])
    cues: list[tuple[float, float, dict[str, Any] | None, str]] = [
        (s["start"], s["end"], s, _cue_text(s)) for s in segs]
    for e in standalone_events(result):
        if not any(s["start"] < e["end"] and e["start"] < s["end"] for s in segs):
            cues.append((e["start"], e["end"], None, event_text(e)))
    return sorted(cues, key=lambda c: (c[0], c[1]))


def to_srt(result: dict[str, Any]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm`` times, ``Speaker: `` before the text."""
    cues = []
    named = _subtitle_speakers(result)
    for i, (start, end, seg, text) in enumerate(_cues(result), 1):
        who = f"{speaker_label(result, seg)}: " if named and seg is not None else ""
        cues.append(f"{i}\n{_ts(start, ',')} --> {_ts(end, ',')}\n{who}{text}\n")
    return "\n".join(cues)


def to_vtt(result: dict[str, Any]) -> str:
    """WebVTT: a header, then ``HH:MM:SS.mmm`` cues, the speaker as a voice span."""
    out = ["WEBVTT", ""]
    named = _subtitle_speakers(result)
    for i, (start, end, seg, text) in enumerate(_cues(result), 1):
        who = ""
        if named and seg is not None:
            voice = " ".join(speaker_label(result, seg).replace("<", "").replace(">", "").replace("&", "and").split())
            who = f"<v {voice}>"
        out += [str(i), f"{_ts(start, '.')} --> {_ts(end, '.')}", who + text, ""]
    return "\n".join(out)


SEGMENT_CSV_COLUMNS = ("start", "end", "speaker", "text", "emotion", "valence", "arousal", "face_emotion",
                       "kind")


def _cell(v: Any) -> Any:
    """A text cell a spreadsheet will not run: one starting with = + - @ (or a tab or carriage
    return) gets a leading apostrophe (OWASP's CSV-injection advice); numbers stay numbers."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def _csv(header: tuple[str, ...], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows([_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def to_csv(result: dict[str, Any]) -> str:
    """One row per segment (:data:`SEGMENT_CSV_COLUMNS`, ``kind`` = ``segment``) and per
    standalone event (``kind`` = ``event``: no speaker, its tag as the text and the tag
    table's emotion), in time order; an absent value is empty."""
    rows: list[tuple[float, list[Any]]] = []
    for seg in result.get("segments", []):
        row = {**seg, "speaker": speaker_label(result, seg), "kind": "segment"}
        rows.append((seg["start"], [row.get(k) if row.get(k) is not None else "" for k in SEGMENT_CSV_COLUMNS]))
    for e in standalone_events(result):
        emo = lookup(e["tag"]) if e.get("tag") else None
        row = {"start": e["start"], "end": e["end"], "text": event_text(e), "kind": "event",
               **({"emotion": emo.emotion, "valence": emo.valence, "arousal": emo.arousal} if emo else {})}
        rows.append((e["start"], [row.get(k, "") for k in SEGMENT_CSV_COLUMNS]))
    return _csv(SEGMENT_CSV_COLUMNS, [r for _, r in sorted(rows, key=lambda x: x[0])])


def faces_to_csv(result: dict[str, Any]) -> str:
    """The face timeline: one row per second with a face (``second``, ``face_emotion``), then
    the mean score of each emotion in that second (``score_<emotion>``) where the result has
    them. Audio gives the header only."""
    timeline = result.get("face_emotion_timeline") or {}
    scores = result.get("face_scores") or {}
    labels = sorted({k for v in scores.values() for k in v})
    rows = []
    for sec in sorted(timeline, key=float):
        per = scores.get(sec, {})
        rows.append([int(float(sec)), timeline[sec], *(per.get(k, "") for k in labels)])
    return _csv(("second", "face_emotion", *(f"score_{k}" for k in labels)), rows)
