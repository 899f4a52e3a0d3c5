"""An Ethos result rendered in the OpenAI audio API's response formats (plain functions).

``json`` → ``{text, usage}``; ``text``; ``srt`` and ``vtt`` (plain cues: OpenAI's subtitles
carry neither speakers nor emotions; ``GET /v1/jobs/{id}/result?format=srt`` has those);
``verbose_json`` → OpenAI's fields plus Ethos's per segment (speaker, emotion, valence,
arousal, tags, face emotion) and per recording (speakers, events, face timeline);
``diarized_json`` → segments with speakers. The streaming events come from here too.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from typing import Any

from shared.exports import speaker_label

# Whisper's languages by ISO 639-1 code, with the English names OpenAI's verbose_json gives.
_NAMES = (
    "en english,zh chinese,de german,es spanish,ru russian,ko korean,fr french,ja japanese,"
    "pt portuguese,tr turkish,pl polish,ca catalan,nl dutch,ar arabic,sv swedish,it italian,"
    "id indonesian,hi hindi,fi finnish,vi vietnamese,he hebrew,uk ukrainian,el greek,ms malay,"
    "cs czech,ro romanian,da danish,hu hungarian,ta tamil,no norwegian,th thai,ur urdu,"
    "hr croatian,bg bulgarian,lt lithuanian,la latin,mi maori,ml malayalam,cy welsh,sk slovak,"
    "te telugu,fa persian,lv latvian,bn bengali,sr serbian,az azerbaijani,sl slovenian,"
    "kn kannada,et estonian,mk macedonian,br breton,eu basque,is icelandic,hy armenian,"
    "ne nepali,mn mongolian,bs bosnian,kk kazakh,sq albanian,sw swahili,gl galician,mr marathi,"
    "pa punjabi,si sinhala,km khmer,sn shona,yo yoruba,so somali,af afrikaans,oc occitan,"
    "ka georgian,be belarusian,tg tajik,sd sindhi,gu gujarati,am amharic,yi yiddish,lo lao,"
    "uz uzbek,fo faroese,ht haitian creole,ps pashto,tk turkmen,nn nynorsk,mt maltese,"
    "sa sanskrit,lb luxembourgish,my myanmar,bo tibetan,tl tagalog,mg malagasy,as assamese,"
    "tt tatar,ln lingala,ha hausa,ba bashkir,jw javanese,su sundanese"
)
LANGUAGE_NAMES: dict[str, str] = dict(
    (pair.split(" ", 1)[0], pair.split(" ", 1)[1]) for pair in _NAMES.split(","))


def language_name(code: str) -> str:
    """``en`` → ``english``; a code without a known name stays as it is."""
    return LANGUAGE_NAMES.get(code, code)


def _clean(text: Any) -> str:
    return " ".join(str(text or "").split())


def _words(seg: dict[str, Any]) -> list[dict[str, Any]]:
    """The segment's words with times inside it, in order: the engine's timed words, or (from
    an engine that times none) the segment's span shared out by the words' lengths."""
    start, end = float(seg["start"]), float(seg["end"])
    timed = [w for w in seg.get("words") or [] if str(w.get("word", "")).strip()]
    out: list[dict[str, Any]] = []
    if timed:
        last = start
        for w in timed:
            ws = min(max(float(w["start"]), last, start), end)
            we = min(max(float(w["end"]), ws), end)
            out.append({"word": str(w["word"]).strip(), "start": round(ws, 3), "end": round(we, 3)})
            last = ws
        return out
    tokens = _clean(seg.get("text")).split()
    total = sum(len(t) + 1 for t in tokens) or 1
    t = start
    for tok in tokens:
        step = (end - start) * (len(tok) + 1) / total
        out.append({"word": tok, "start": round(t, 3), "end": round(min(t + step, end), 3)})
        t += step
    return out


def _compression_ratio(text: str) -> float:
    raw = text.encode()
    return round(len(raw) / len(zlib.compress(raw)), 4) if raw else 0.0


def _avg_logprob(seg: dict[str, Any]) -> float:
    probs = [float(w.get("probability", 0.0)) for w in seg.get("words") or []]
    return round(sum(math.log(max(p, 1e-6)) for p in probs) / len(probs), 4) if probs else 0.0


def _usage(result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "duration", "seconds": round(float(result.get("duration") or 0.0), 3)}


def plain_json(result: dict[str, Any]) -> dict[str, Any]:
    """``json``: the text and the audio's duration as usage."""
    return {"text": result["text"], "usage": _usage(result)}


def verbose_json(result: dict[str, Any], granularities: Sequence[str], temperature: float,
                 task: str = "transcribe") -> dict[str, Any]:
    """``verbose_json``: segments unless only words were asked for, words when asked for."""
    segs = result.get("segments", [])
    out: dict[str, Any] = {
        "task": task,
        "language": "english" if task == "translate" else language_name(str(result.get("language", ""))),
        "duration": result.get("duration", 0.0),
        "text": result["text"],
    }
    if "segment" in granularities or not granularities:
        out["segments"] = [{
            "id": s["id"],
            "seek": int(round(float(s["start"]) * 100)),
            "start": s["start"],
            "end": s["end"],
            "text": s.get("text", ""),
            "tokens": [],
            "temperature": temperature,
            "avg_logprob": _avg_logprob(s),
            "compression_ratio": _compression_ratio(str(s.get("text", ""))),
            "no_speech_prob": 0.0,
            "speaker": speaker_label(result, s),
            "emotion": s.get("emotion"),
            "valence": s.get("valence"),
            "arousal": s.get("arousal"),
            "tags": [{k: t.get(k) for k in ("tag", "time", "emotion", "valence", "arousal", "source")}
                     for t in s.get("tags") or []],
            "face_emotion": s.get("face_emotion"),
        } for s in segs]
    if "word" in granularities:
        out["words"] = [w for s in segs for w in _words(s)]
    out["usage"] = _usage(result)
    out["job_id"] = result.get("job_id")
    out["speakers"] = result.get("speakers") or []
    for key in ("overlaps", "events", "face_emotion_timeline"):
        if result.get(key):
            out[key] = result[key]
    return out


def diarized_segments(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The segments as ``transcript.text.segment`` objects, speakers named where they were."""
    return [{"type": "transcript.text.segment", "id": f"seg_{s['id']}", "start": s["start"],
             "end": s["end"], "text": s.get("text", ""), "speaker": speaker_label(result, s)}
            for s in result.get("segments", [])]


def diarized_json(result: dict[str, Any]) -> dict[str, Any]:
    """``diarized_json``: the text and its segments with speakers."""
    return {"task": "transcribe", "duration": result.get("duration", 0.0), "text": result["text"],
            "segments": diarized_segments(result), "usage": _usage(result)}


def _ts(seconds: float, sep: str) -> str:
    ms = int(round(max(float(seconds), 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt(result: dict[str, Any]) -> str:
    """SubRip, one cue per segment, text only."""
    cues = [f"{i}\n{_ts(s['start'], ',')} --> {_ts(s['end'], ',')}\n{_clean(s.get('text'))}\n"
            for i, s in enumerate(result.get("segments", []), 1)]
    return "\n".join(cues)


def vtt(result: dict[str, Any]) -> str:
    """WebVTT, one cue per segment, text only."""
    cues = [f"{_ts(s['start'], '.')} --> {_ts(s['end'], '.')}\n{_clean(s.get('text'))}\n"
            for s in result.get("segments", [])]
    return "WEBVTT\n\n" + "\n".join(cues)


TEXT_TYPES = {"text": "text/plain; charset=utf-8", "srt": "application/x-subrip; charset=utf-8",
              "vtt": "text/vtt; charset=utf-8"}


def render(result: dict[str, Any], response_format: str, granularities: Sequence[str],
           temperature: float, task: str) -> tuple[dict[str, Any] | str, str]:
    """The answer body in ``response_format`` and its media type."""
    if response_format == "text":
        return result["text"] + "\n", TEXT_TYPES["text"]
    if response_format in ("srt", "vtt"):
        return (srt if response_format == "srt" else vtt)(result), TEXT_TYPES[response_format]
    if response_format == "verbose_json":
        return verbose_json(result, granularities, temperature, task), "application/json"
    if response_format == "diarized_json":
        return diarized_json(result), "application/json"
    return plain_json(result), "application/json"


def sse(event: dict[str, Any]) -> bytes:
    """One server-sent event (``data:`` line, blank line)."""
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


def delta(text: Any, first: bool) -> str:
    """A segment's text as a delta: separated from the one before by a space, so the deltas
    joined read as the result's text."""
    clean = _clean(text)
    return clean if first else " " + clean
