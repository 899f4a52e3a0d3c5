"""Scores of one evaluation run: per clip and over the set, as JSON, Markdown and a chart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evaluation.metrics import (
    ErrorRates,
    TagCounts,
    char_errors,
    tag_counts,
    tag_report,
    total,
    word_errors,
)


@dataclass
class ClipScore:
    """One clip's outcome: the hypothesis, its scores and its timings."""

    id: str
    reference: str
    hypothesis: str = ""
    error: str | None = None
    duration_s: float = 0.0
    wer: float = 1.0
    cer: float = 1.0
    word_errors: int = 0
    reference_words: int = 0
    tag_f1: float | None = None  # None when neither side has tags
    tags_reference: int = 0
    tags_hypothesis: int = 0
    emotion_expected: str | None = None
    emotion: str | None = None
    speakers_expected: int | None = None
    speakers: int | None = None
    # Diarization error (evaluation.der) where the clip has reference turns: DER, and the
    # erroneous and reference seconds that sum over the set.
    der: float | None = None
    der_error_s: float | None = None
    der_reference_s: float | None = None
    stt_s: float | None = None
    wall_s: float | None = None
    engine: str | None = None
    model_id: str | None = None
    # The language the clip is in (manifest) and the one the result gives (detected with auto).
    language_expected: str | None = None
    language: str | None = None
    language_probability: float | None = None

    @property
    def rtf(self) -> float | None:
        """STT seconds per second of audio (below 1: faster than real time)."""
        return self.stt_s / self.duration_s if self.stt_s and self.duration_s else None


def score_clip(clip_id: str, reference: str, hypothesis: str, **info: Any) -> ClipScore:
    """WER, CER and tag F1 of one clip (metrics in ``evaluation.metrics``; numbers spelled out in
    the clip's ``language_expected`` when the manifest gives one)."""
    lang = info.get("language_expected")
    w, c = word_errors(reference, hypothesis, lang), char_errors(reference, hypothesis, lang)
    tags = total(tag_counts(reference, hypothesis).values())
    has_tags = tags.tp + tags.fp + tags.fn > 0
    return ClipScore(
        id=clip_id, reference=reference, hypothesis=hypothesis, wer=w.rate, cer=c.rate,
        word_errors=w.errors, reference_words=w.reference_len, tag_f1=tags.f1 if has_tags else None,
        tags_reference=tags.tp + tags.fn, tags_hypothesis=tags.tp + tags.fp, **info,
    )


def _counts(c: TagCounts) -> dict[str, float | int]:
    return {"tp": c.tp, "fp": c.fp, "fn": c.fn, "precision": round(c.precision, 4),
            "recall": round(c.recall, 4), "f1": round(c.f1, 4)}


@dataclass
class Summary:
    """A run over a set: the headline figures and every clip."""

    url: str
    manifest: str
    clips: list[ClipScore]
    engines: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        ok = [c for c in self.clips if c.error is None]
        words = sum((ErrorRates(c.word_errors, c.reference_words) for c in self.clips), ErrorRates())
        chars = sum((char_errors(c.reference, c.hypothesis, c.language_expected) for c in self.clips),
                    ErrorRates())
        tags = tag_report((c.reference, c.hypothesis) for c in self.clips)
        labelled = [c for c in self.clips if c.emotion_expected]
        counted = [c for c in self.clips if c.speakers_expected]
        languaged = [c for c in self.clips if c.language_expected]
        diarized = [c for c in self.clips if c.der_reference_s]
        der_ref = sum(c.der_reference_s or 0.0 for c in diarized)
        audio = sum(c.duration_s for c in ok)
        stt = sum(c.stt_s or 0.0 for c in ok)
        return {
            "url": self.url, "manifest": self.manifest, "engines": self.engines,
            "clips": len(self.clips), "failed": len(self.clips) - len(ok),
            "wer": round(words.rate, 4), "cer": round(chars.rate, 4),
            "wer_mean_per_clip": round(sum(c.wer for c in self.clips) / len(self.clips), 4) if self.clips else None,
            "tags": {
                "micro": _counts(tags.micro),
                "macro_f1": round(tags.macro_f1, 4) if tags.macro_f1 is not None else None,
                "macro_clips": tags.macro_clips,
                "per_tag": {t: _counts(c) for t, c in tags.per_tag.items()},
            },
            "emotion_accuracy": (round(sum(c.emotion == c.emotion_expected for c in labelled) / len(labelled), 4)
                                 if labelled else None),
            "emotion_labelled": len(labelled),
            "language_accuracy": (round(sum(c.language == c.language_expected for c in languaged) / len(languaged), 4)
                                  if languaged else None),
            "language_labelled": len(languaged),
            "speaker_count_accuracy": (round(sum(c.speakers == c.speakers_expected for c in counted) / len(counted), 4)
                                       if counted else None),
            "der": round(sum(c.der_error_s or 0.0 for c in diarized) / der_ref, 4) if der_ref else None,
            "der_clips": len(diarized),
            "audio_s": round(audio, 3), "stt_s": round(stt, 3),
            "rtf": round(stt / audio, 4) if audio and stt else None,
            "rtfx": round(audio / stt, 2) if audio and stt else None,
            "per_clip": [{**asdict(c), "rtf": round(c.rtf, 4) if c.rtf else None} for c in self.clips],
        }


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def markdown(d: dict[str, Any]) -> str:
    """The run as a Markdown report."""
    t = d["tags"]
    micro = t["micro"]
    lines = [
        "# Ethos evaluation", "",
        f"Ethos at `{d['url']}`, manifest `{d['manifest']}`, engine(s): {', '.join(d['engines']) or '—'}.",
        f"{d['clips']} clips ({d['failed']} failed), {d['audio_s']:.1f} s of audio.", "",
        "| metric | value |", "|---|---|",
        f"| WER (all words of all clips) | {_pct(d['wer'])} |",
        f"| CER | {_pct(d['cer'])} |",
        f"| tag precision / recall / F1, micro over all tags | {_pct(micro['precision'])} / {_pct(micro['recall'])}"
        f" / {_pct(micro['f1'])} (tp {micro['tp']}, fp {micro['fp']}, fn {micro['fn']}) |",
        f"| tag F1, macro over the {t['macro_clips']} clips with reference tags | {_pct(t['macro_f1'])} |",
        f"| speech-emotion accuracy ({d['emotion_labelled']} labelled clips) | {_pct(d['emotion_accuracy'])} |",
        f"| speaker-count accuracy | {_pct(d['speaker_count_accuracy'])} |",
        f"| language accuracy ({d.get('language_labelled', 0)} clips with a language) | "
        f"{_pct(d.get('language_accuracy'))} |",
        f"| DER, 0.25-s collar ({d['der_clips']} clips with reference turns) | {_pct(d['der'])} |",
        f"| real-time factor (STT seconds / audio seconds) | {d['rtf'] if d['rtf'] is not None else '—'}"
        f" ({d['rtfx'] if d['rtfx'] is not None else '—'}x real time) |",
        "", "## Per tag", "", "| tag | tp | fp | fn | precision | recall | F1 |", "|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {tag} | {c['tp']} | {c['fp']} | {c['fn']} | {_pct(c['precision'])} | {_pct(c['recall'])} | "
              f"{_pct(c['f1'])} |" for tag, c in t["per_tag"].items()] or ["| (no tags on either side) | | | | | | |"]
    lines += ["", "## Per clip", "",
              "| clip | seconds | WER | CER | tag F1 | emotion (expected) | language (expected) | STT s | RTF | error |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for c in d["per_clip"]:
        emo = f"{c['emotion'] or '—'} ({c['emotion_expected']})" if c["emotion_expected"] else (c["emotion"] or "—")
        lang = f"{c.get('language') or '—'} ({c['language_expected']})" if c.get("language_expected") else "—"
        lines.append(f"| {c['id']} | {c['duration_s']:.1f} | {_pct(c['wer'])} | {_pct(c['cer'])} | "
                     f"{_pct(c['tag_f1'])} | {emo} | {lang} | {c['stt_s'] if c['stt_s'] is not None else '—'} | "
                     f"{c['rtf'] if c['rtf'] is not None else '—'} | {c['error'] or ''} |")
    lines += ["", "## Hypotheses", ""]
    lines += [f"- **{c['id']}**: {c['hypothesis'] or '(none)'}" for c in d["per_clip"]]
    return "\n".join(lines) + "\n"


def chart(d: dict[str, Any], dest: Path) -> Path:
    """A PNG bar chart of per-clip WER and tag F1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = d["per_clip"]
    ids = [c["id"] for c in clips]
    xs = range(len(ids))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(ids) + 2), 4.0))
    ax.bar([x - 0.2 for x in xs], [100 * c["wer"] for c in clips], 0.4, label="WER %")
    ax.bar([x + 0.2 for x in xs], [100 * (c["tag_f1"] or 0.0) for c in clips], 0.4, label="tag F1 % (0 when no tags)")
    ax.set_xticks(list(xs), ids, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_title(f"WER {_pct(d['wer'])}, tag F1 (micro) {_pct(d['tags']['micro']['f1'])}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(dest, dpi=100)
    plt.close(fig)
    return dest


def write(d: dict[str, Any], out: Path) -> dict[str, Path]:
    """``report.json``, ``report.md`` and ``chart.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "chart": out / "chart.png"}
    paths["json"].write_text(json.dumps(d, indent=2) + "\n")
    paths["markdown"].write_text(markdown(d))
    chart(d, paths["chart"])
    return paths
