"""Batched Whisper decoding of our VAD segments, with per-segment language detection.

Each segment (≤ 30 s) becomes one padded mel window; a batch of them goes through the encoder
once. The window is the shortest of 10, 12.5, 15, … 30 s (from ``window_min_s``, in 2.5-s steps; the engine passes
a short one for English only) that holds the batch's longest segment with 1 s of silence
after it, not always Whisper's 30 s: the encoder's cost follows the window's length, and on our
English set and real English recordings the shorter window changed about a word in a hundred
(README, "Short encoder windows"); 2.5-s steps instead of 5 s wrote the same words on the
English set and 11 other real English recordings (``bench/window_step.py``). With detection, only the languages in ``short_languages``
(English) are decoded from the short window: the batch is encoded there first (unless the
recording so far is in another language), the language is detected on that encoding (the same
top language as from 30 s on all 51 segments of our multilingual and English real sets,
``bench/window_detection.py``), and the other languages' segments are encoded again at 30 s.
A first batch whose detection is unsure (no language above ``min_probability`` in its vote) is
encoded again at 30 s and detected there before anything else. With no language given, the multilingual model's language head reads the same encoder
output (no extra pass): a segment keeps its own detection when it is confident
(``min_probability``), otherwise it takes the recording's language so far (``prior``, or the
batch's own duration-weighted vote), so code-switching is followed segment by segment while a
short, ambiguous "okay" does not flip the language. Segments are then decoded together (greedy
or beam, no timestamps), grouped by language (one tokenizer per group), and words are timed
by cross-attention alignment, as faster-whisper's ``BatchedInferencePipeline`` does over its
own chunks. When a recording's first batch has an unsure segment and no language above
``min_probability`` in its duration-weighted vote, the vote's top three are each decoded alike (the job's beam width) and the likeliest text's
language becomes the prior (``best_decoded``; a text with no letters or a loop does not count). A segment whose text looks like a decoding loop (compression ratio > 2.4) or that
is improbable (average log-probability < -1) is decoded again alone with faster-whisper's
temperature fallback.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.schemas import Word
from shared.scripts import join_texts
from workers.stt.engines.base import Transcript

SAMPLE_RATE = 16000
PREPEND = "\"'“¿([{-"
APPEND = "\"'.。,，!！?？:：”)]}、"
MAX_COMPRESSION = 2.4
MIN_LOGPROB = -1.0
NO_SPEECH = 0.6
# The decoder is not asked for timestamp tokens (words are timed by alignment).
WITHOUT_TIMESTAMPS = True
CANDIDATES = 3  # languages decoded when the detector is unsure of a recording's first batch
FULL_WINDOW_S = 30.0
WINDOW_STEP_S = 2.5  # README, "Short encoder windows"
WINDOW_MARGIN_S = 1.0  # silence kept after the longest segment of a batch


def window_frames(longest_s: float, window_min_s: float, frames_per_second: int = 100) -> int:
    """Mel frames of the encoder window for a batch whose longest segment lasts ``longest_s``:
    the shortest of ``window_min_s``, +2.5 s, … that holds it with 1 s to spare, at most 30 s."""
    window = max(window_min_s, WINDOW_STEP_S * math.ceil((longest_s + WINDOW_MARGIN_S) / WINDOW_STEP_S))
    return int(round(min(window, FULL_WINDOW_S) * frames_per_second))


@dataclass
class Pick:
    language: str
    probability: float | None  # None: given by the caller, not detected


def choose(probs: list[tuple[str, float]], prior: str | None, min_probability: float) -> Pick:
    """A segment's language from its detection (``[("<|de|>", p), ...]``, best first)."""
    token, p = probs[0]
    if p >= min_probability or prior is None or token[2:-2] == prior:
        return Pick(token[2:-2], round(float(p), 4))
    return Pick(prior, round(float(dict(probs).get(f"<|{prior}|>", 0.0)), 4))


def vote_shares(detections: list[list[tuple[str, float]]], seconds: list[float]) -> list[tuple[str, float]]:
    """Each language's share of the duration-weighted probability over a batch, best first."""
    votes: dict[str, float] = defaultdict(float)
    for probs, s in zip(detections, seconds, strict=True):
        for token, p in probs:
            votes[token[2:-2]] += p * s
    total = sum(votes.values()) or 1.0
    return sorted(((k, v / total) for k, v in votes.items()), key=lambda kv: -kv[1])


def batch_prior(detections: list[list[tuple[str, float]]], seconds: list[float]) -> str:
    """The language with the most duration-weighted probability over a batch."""
    return vote_shares(detections, seconds)[0][0]


def loops(text: str) -> bool:
    """Whisper's sign of a decoding loop: the text compresses past ``MAX_COMPRESSION``."""
    from faster_whisper.transcribe import get_compression_ratio

    return bool(text) and get_compression_ratio(text) > MAX_COMPRESSION


def writes_speech(text: str) -> bool:
    """A decoded text that could be the speech written down: some letters (not only digits and
    marks, as in "1-0-0-0") and no loop (``loops``)."""
    return any(ch.isalpha() for ch in text) and not loops(text)


def best_decoded(model: Any, enc: Any, seconds: list[float], candidates: list[str], beam_size: int = 1) -> str:
    """Of the candidate languages, the one whose transcript of the batch (every candidate
    decoded alike: ``beam_size``, no prompt) is likeliest (duration-weighted mean log-probability
    per token): a language the detector is unsure of is settled by how well the decoder can
    write the speech in it. Speech a candidate cannot write (no letters, or a loop:
    ``writes_speech``) counts against it before any score, so a degenerate "1-0-0-0…", likely
    token by token, does not win."""
    from faster_whisper.tokenizer import Tokenizer

    ranks: dict[str, tuple[float, float]] = {}
    total = max(sum(seconds), 1e-9)
    for lang in candidates:
        tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=lang)
        prompt = list(model.get_prompt(tokenizer, [], without_timestamps=True))
        results = model.model.generate(enc, [prompt for _ in seconds], beam_size=beam_size,
                                       max_length=model.max_length, return_scores=True)
        unwritten = sum(s for r, s in zip(results, seconds, strict=True)
                        if not writes_speech(tokenizer.decode([t for t in r.sequences_ids[0] if t < tokenizer.eot])))
        score = sum(r.scores[0] * s for r, s in zip(results, seconds, strict=True)) / total
        ranks[lang] = (-unwritten, score)
    return max(ranks, key=lambda k: ranks[k])


def words_of(raw: list[dict[str, Any]]) -> list[Word]:
    out = []
    for w in raw:
        token = str(w["word"]).strip()
        if token:
            out.append(Word(word=token, start=round(float(w["start"]), 3), end=round(float(w["end"]), 3),
                            probability=round(min(max(float(w["probability"]), 0.0), 1.0), 4)))
    return out


def decode_batch(model: Any, clips: list[np.ndarray], language: str | None, task: str, beam_size: int,
                 prior: str | None = None, min_probability: float = 0.5,
                 prompts: dict[str, str] | None = None, window_min_s: float = FULL_WINDOW_S,
                 short_languages: tuple[str, ...] | None = None,
                 beams: dict[str, int] | None = None) -> list[Transcript]:
    """One transcript per clip (16 kHz mono float32, each ≤ 30 s); ``language`` None: detect.

    ``window_min_s`` applies to the languages in ``short_languages`` (None: every one), the
    others are decoded from 30-s windows; ``beams``: a beam width per language (the rest
    ``beam_size``)."""
    from faster_whisper.audio import pad_or_trim

    seconds = [len(c) / SAMPLE_RATE for c in clips]
    full = window_frames(max(seconds), FULL_WINDOW_S, model.frames_per_second)
    if short_languages is not None and (language or prior) not in (None, *short_languages):
        window_min_s = FULL_WINDOW_S  # the job's (or the recording's) language is decoded from 30 s
    frames = window_frames(max(seconds), window_min_s, model.frames_per_second)
    feats = np.stack([pad_or_trim(model.feature_extractor(c.astype(np.float32))[..., :-1], frames) for c in clips])
    enc = model.encode(feats)
    if language is None and model.model.is_multilingual:
        detections = model.model.detect_language(enc)
        shares = vote_shares(detections, seconds)
        if frames < full and prior is None and shares[0][1] < min_probability:
            # An unsure first batch is settled on Whisper's own 30-s window (its candidates differ).
            feats, frames = pad_or_trim(feats, full), full
            enc = model.encode(feats)
            detections = model.model.detect_language(enc)
            shares = vote_shares(detections, seconds)
        guess = prior or shares[0][0]
        if prior is None and shares[0][1] < min_probability and any(d[0][1] < min_probability for d in detections):
            # the recording so far is unsure: ask the decoder
            guess = best_decoded(model, enc, seconds, [k for k, _ in shares[:CANDIDATES]], beam_size)
        picks = [choose(d, guess, min_probability) for d in detections]
    else:
        picks = [Pick(language or "en", None)] * len(clips)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, pick in enumerate(picks):
        groups[pick.language].append(i)
    out: list[Transcript | None] = [None] * len(clips)
    for lang, idx in groups.items():
        group_feats, group_enc = feats[idx], enc if len(idx) == len(clips) else None
        if frames < full and short_languages is not None and lang not in short_languages:
            group_feats, group_enc = pad_or_trim(group_feats, full), None  # detected short, decoded at 30 s
        if group_enc is None:
            group_enc = model.encode(group_feats)
        beam = (beams or {}).get(lang, beam_size)
        prompt = (prompts or {}).get(lang)
        texts = _decode_group(model, group_feats, group_enc, [seconds[i] for i in idx], lang, task, beam, prompt)
        for i, t in zip(idx, texts, strict=True):
            if t is None:  # a loop or an improbable text: again alone, with temperature fallback
                t = decode_alone(model, clips[i], lang, task, beam, prompts)
            t.language, t.language_probability = lang, picks[i].probability
            out[i] = t
    return [t for t in out if t is not None]


def _decode_group(model: Any, feats: np.ndarray, enc: Any, seconds: list[float], lang: str, task: str,
                  beam_size: int, prompt_text: str | None = None) -> list[Transcript | None]:
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task=task, language=lang)
    previous = tokenizer.encode(" " + prompt_text.strip()) if prompt_text else []
    prompt = model.get_prompt(tokenizer, previous, without_timestamps=WITHOUT_TIMESTAMPS)
    results = model.model.generate(
        enc, [list(prompt) for _ in seconds], beam_size=beam_size, max_length=model.max_length,
        suppress_blank=True, suppress_tokens=list(get_suppressed_tokens(tokenizer, (-1,)) or ()),
        return_scores=True, return_no_speech_prob=True,
    )
    rows: list[list[dict[str, Any]]] = []
    keep: list[int] = []
    texts: list[Transcript | None] = [None] * len(seconds)
    for i, r in enumerate(results):
        tokens = [t for t in r.sequences_ids[0] if t < tokenizer.eot]
        avg_logprob = r.scores[0] * len(r.sequences_ids[0]) / (len(r.sequences_ids[0]) + 1)
        text = tokenizer.decode(tokens).strip()
        if r.no_speech_prob > NO_SPEECH and avg_logprob < MIN_LOGPROB:
            texts[i] = Transcript(text="")  # silence: Whisper's own rule
            continue
        if loops(text) or avg_logprob < MIN_LOGPROB:
            continue  # left None: decoded again alone
        texts[i] = Transcript(text=text)
        rows.append([{"tokens": tokens, "start": 0.0, "end": seconds[i], "seek": 0}])
        keep.append(i)
    if rows:
        frames = [min(int(math.ceil(seconds[i]) * model.frames_per_second), feats.shape[-1]) for i in keep]
        if len(keep) != len(seconds):  # rare: align only the kept clips
            enc = model.encode(feats[keep])
        model.add_word_timestamps(rows, tokenizer, enc, frames, PREPEND, APPEND, 0.0)
        for i, row in zip(keep, rows, strict=True):
            if texts[i] is not None:
                texts[i].words = words_of(row[0].get("words", []))  # type: ignore[union-attr]
    return texts


def decode_alone(model: Any, clip: np.ndarray, language: str | None, task: str, beam_size: int,
                 prompts: dict[str, str] | None = None) -> Transcript:
    """One clip through faster-whisper's own loop (temperature fallback, word timings)."""
    segments, info = model.transcribe(
        clip.astype(np.float32), language=language, task=task, beam_size=beam_size, word_timestamps=True,
        vad_filter=False, condition_on_previous_text=False,
        initial_prompt=(prompts or {}).get(language or ""),
    )
    texts: list[str] = []
    words: list[Word] = []
    for seg in segments:
        texts.append(seg.text.strip())
        words += words_of([dataclasses.asdict(w) for w in seg.words or []])
    prob = None if language else round(float(info.language_probability), 4)
    return Transcript(text=join_texts(texts), words=words, language=info.language,
                      language_probability=prob)
