"""Voxtral Mini 3B with the evoxtral LoRA adapter merged: text with inline tags.

Loaded lazily, once per worker process (never in a parent before fork); bf16 on CUDA.
Each VAD segment (≤ 30 s, one model window) is transcribed on its own, in batches, with
greedy decoding and a token cap that scales with the segment's duration; a segment that
reaches its cap is flagged ``truncated``. The cap's default (``ETHOS_STT__TOKENS_PER_SECOND``
= 10) follows the measured token density of the adapter's training scripts: 1,010 tagged
scripts, mean 1.63 tokens per spoken word, 95th percentile 2.78; at 3-3.5 words/s that is
8.3-9.7 tokens/s, so 10 tokens/s lets a fast, tag-heavy segment finish. A CUDA
out-of-memory error halves the batch and retries instead of failing the job; the batch
grows back after a run of successful batches (``batching.BatchSizer``).

The adapter is applied completely or not at all (``adapter.load_strict``).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import JobError, ModelUnavailable
from shared.schemas import ModelInfo
from shared.settings import SttSettings
from workers.stt.engines.adapter import AdapterReport, load_strict
from workers.stt.engines.base import SpeechEngine, Transcript, cuda_available
from workers.stt.engines.batching import BatchSizer

log = logging.getLogger("ethos.stt.voxtral")
SR = 16000


def hub_timeouts() -> None:
    """Keep hub lookups from hanging a worker on a network that drops packets (set before the
    hub client is first used; a value already in the environment wins)."""
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")


def _is_local(ref: str) -> bool:
    return Path(ref).expanduser().exists()


def _cached(ref: str, filename: str) -> bool:
    """True when ``ref`` is a local folder or its ``filename`` is in the Hugging Face cache."""
    if _is_local(ref):
        return (Path(ref).expanduser() / filename).exists()
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(ref, filename)
    except Exception:  # noqa: BLE001 - an odd id is simply "not cached"
        return False
    return isinstance(hit, str)


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """A quick TCP check of the hub, so an offline worker fails in seconds, not minutes."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def ensure_loadable(ref: str | None, filename: str, what: str) -> None:
    """Raise ModelUnavailable at once when weights are neither local, cached nor downloadable."""
    if ref and not _cached(ref, filename) and not hub_reachable():
        raise ModelUnavailable(unavailable_message(ref, what, ConnectionError("hub unreachable")))


def availability(cfg: SttSettings) -> dict[str, object]:
    """Whether the weights can load without a download (for /readyz; loads nothing)."""
    model_ok = _cached(cfg.voxtral.model_id, "config.json")
    adapter_ok = cfg.voxtral.adapter_id is None or _cached(cfg.voxtral.adapter_id, "adapter_config.json")
    out: dict[str, object] = {"engine": "voxtral", "model_id": cfg.voxtral.model_id, "adapter_id": cfg.voxtral.adapter_id,
                              "device": "cuda" if cuda_available() else "cpu",
                              "ready": model_ok and adapter_ok}
    if not out["ready"]:
        missing = [r for r, ok in ((cfg.voxtral.model_id, model_ok), (cfg.voxtral.adapter_id, adapter_ok)) if not ok and r]
        out["message"] = (f"not in the local Hugging Face cache: {', '.join(missing)}; the first job downloads "
                          "them if the hub is reachable (see README, 'Models')")
    return out


def unavailable_message(ref: str, what: str, err: BaseException) -> str:
    cache = os.environ.get("HF_HOME", "~/.cache/huggingface")
    return (
        f"cannot load the {what} {ref!r}: it is not a local folder, not in the Hugging Face cache "
        f"({cache}), and the hub could not be reached ({type(err).__name__}). Fix: on a machine with "
        f"network run `huggingface-cli download {ref}` and copy the cache here (or set HF_HOME), or point "
        f"{'MODEL_ID' if what == 'model' else 'ADAPTER_ID'} at a local folder, or use the offline engine "
        "with ETHOS_STT__ENGINE=fasterwhisper."
    )


@lru_cache
class UnsupportedTask(JobError):
    code = "unsupported_task"


def request_languages() -> tuple[str, ...]:
    """The codes a Voxtral transcription request accepts: ISO 639-1 two-letter codes, as
    mistral-common's request validator (``LanguageAlpha2``, over pycountry) checks them."""
    import pycountry

    return tuple(sorted({lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")}))


def transcription_request(processor: Any, clips: list[np.ndarray], language: str, model_id: str) -> Any:
    """The prompt of a batch of clips, exactly as the adapter was trained and as it is served:
    ``apply_transcription_request`` with the job's language. Training (``training.data``)
    builds its inputs with this same function, so the two cannot drift."""
    return processor.apply_transcription_request(
        language=language, audio=[c.astype(np.float32) for c in clips], format=["WAV"] * len(clips),
        model_id=model_id, sampling_rate=SR, return_tensors="pt",
        **request_flags(type(processor)),  # type: ignore[arg-type]
    )


@lru_cache
def request_flags(processor_cls: type) -> dict[str, bool]:
    """``tokenize=True, return_dict=True`` where this transformers takes them as request
    arguments: transformers main warns when they are left to their coming ``False`` defaults,
    5.24 warns that they are unknown when given."""
    from typing import get_type_hints

    try:
        hints = get_type_hints(processor_cls.valid_processor_kwargs)  # type: ignore[attr-defined]
        known = set(hints) | set(get_type_hints(hints["text_kwargs"]))
    except Exception:  # noqa: BLE001 - an unexpected processor: pass neither
        return {}
    return {name: True for name in ("tokenize", "return_dict") if name in known}


STATIC_TOKEN_STEP = 64  # static caches come in lengths of prompt + a multiple of this


def row_caps(prompt: int, caps: list[int], device: str) -> Any:
    """A stopping criterion that ends each row at its own token cap (the batch stops when
    every row has met EOS or its cap)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    limit = torch.tensor(caps, device=device)

    class RowCaps(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return (input_ids.shape[1] - prompt) >= limit

    return StoppingCriteriaList([RowCaps()])


def static_kwargs(compile_mode: str, max_new: int) -> dict[str, Any]:
    """``generate`` arguments for a static KV cache compiled on CUDA: the cache length
    rounded up so a handful of shapes cover every batch."""
    from transformers import CompileConfig

    steps = max(1, math.ceil(max_new / STATIC_TOKEN_STEP)) * STATIC_TOKEN_STEP
    return {"cache_implementation": "static", "max_new_tokens": steps,
            "compile_config": CompileConfig(fullgraph=False, dynamic=False, mode=compile_mode)}


class VoxtralEngine(SpeechEngine):
    name = "voxtral"
    detects = True
    # Each segment costs a whole 30-s window (375 audio tokens) however short it is, so pack
    # speech across pauses up to 3 s: about 4x fewer windows than 0.6 s on paced speech
    # (bench/segment_packing.py), segments still ≤ ETHOS_VAD__MAX_SEGMENT_S.
    default_merge_gap_s = 3.0

    def __init__(self, cfg: SttSettings, model: Any = None, processor: Any = None) -> None:
        self.cfg = cfg
        self.sizer = BatchSizer(cfg.voxtral.batch_size, cfg.voxtral.batch_regrow_after)
        self.languages = request_languages()
        self.model = model
        self.processor = processor
        self.device = "cpu"
        self.dtype_name: str = cfg.voxtral.cpu_dtype
        self._lock = threading.Lock()
        self.merged = False
        self.adapter: AdapterReport | None = None
        if model is not None:
            self.device = str(next(model.parameters()).device)

    # -- loading -----------------------------------------------------------------------
    def _pick_device(self) -> tuple[str, Any]:
        import torch

        want = self.cfg.device
        if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
            if not torch.cuda.is_available():
                raise ModelUnavailable("ETHOS_STT__DEVICE=cuda but no CUDA GPU is visible")
            return "cuda", torch.bfloat16
        return "cpu", getattr(torch, self.cfg.voxtral.cpu_dtype)

    def load(self) -> None:
        with self._lock:
            if self.model is not None:
                return
            hub_timeouts()
            from transformers import AutoProcessor, VoxtralForConditionalGeneration

            device, dtype = self._pick_device()
            ref = self.cfg.voxtral.model_id
            ensure_loadable(ref, "config.json", "model")
            ensure_loadable(self.cfg.voxtral.adapter_id, "adapter_config.json", "adapter")
            try:
                processor = AutoProcessor.from_pretrained(ref)
                model = VoxtralForConditionalGeneration.from_pretrained(ref, dtype=dtype)
            except OSError as e:
                raise ModelUnavailable(unavailable_message(ref, "model", e)) from e
            if self.cfg.voxtral.adapter_id:
                try:
                    model, self.adapter = load_strict(model, self.cfg.voxtral.adapter_id)
                except (OSError, ValueError) as e:
                    raise ModelUnavailable(unavailable_message(self.cfg.voxtral.adapter_id, "adapter", e)) from e
                self.merged = True
            model.to(device).eval()  # type: ignore[arg-type]
            self.model, self.processor, self.device = model, processor, device
            self.dtype_name = str(dtype).replace("torch.", "")
            log.info("Voxtral loaded: %s + %s on %s (%s)", ref, self.cfg.voxtral.adapter_id, device, self.dtype_name)

    def info(self) -> ModelInfo:
        from importlib import metadata

        return ModelInfo(
            engine=self.name, model_id=self.cfg.voxtral.model_id, adapter_id=self.cfg.voxtral.adapter_id,
            version=f"transformers {metadata.version('transformers')}, peft {metadata.version('peft')}",
            device=self.device,
            extra={"tags": True, "dtype": self.dtype_name, "adapter_merged": self.merged,
                   "tokens_per_second": self.cfg.voxtral.tokens_per_second, "decode": self.cfg.voxtral.decode,
                   **(self.adapter.extra() if self.adapter else {})},
        )

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        return self.sizer.size

    @property
    def segments_per_call(self) -> int:
        """Several batches' worth, regrouped by length (``ETHOS_STT__VOXTRAL__LENGTH_BUCKETS``)."""
        return self.sizer.size * self.cfg.voxtral.length_buckets

    # -- generation --------------------------------------------------------------------
    def token_cap(self, seconds: float) -> int:
        """Most new tokens allowed for a clip of this length."""
        return max(self.cfg.voxtral.min_new_tokens_cap, math.ceil(seconds * self.cfg.voxtral.tokens_per_second))

    def encode(self, clips: list[np.ndarray], language: str) -> Any:
        """The transcription-request batch, as the adapter was trained (language from the job)."""
        inputs = transcription_request(self.processor, clips, language, self.cfg.voxtral.model_id)
        return inputs.to(self.device, dtype=self.model.dtype)

    def generate_ids(self, clips: list[np.ndarray], language: str, caps: list[int],
                     **gen_kwargs: Any) -> list[list[int]]:
        """Greedy generation for one batch (``gen_kwargs`` may ask for sampling); each row cut
        at its own cap (EOS excluded)."""
        import torch

        n = len(clips)
        if self.cfg.voxtral.decode == "static" and n < self.sizer.size:
            # Fixed batch shapes: pad a short batch with silence (one compiled graph per size).
            clips = clips + [np.zeros(SR, np.float32)] * (self.sizer.size - n)
            caps = caps + [1] * (self.sizer.size - n)
        inputs = self.encode(clips, language)
        prompt = inputs["input_ids"].shape[1]
        kwargs: dict[str, Any] = {"do_sample": False, "max_new_tokens": max(caps),
                                  "stopping_criteria": row_caps(prompt, caps, self.device)}
        if self.cfg.voxtral.decode == "static":
            kwargs.update(static_kwargs(self.cfg.voxtral.compile_mode, max(caps)))
        with torch.inference_mode():
            out = self.model.generate(**inputs, **{**kwargs, **gen_kwargs})
        new = out[:n, prompt:].tolist()
        caps = caps[:n]
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        pad = self.model.generation_config.pad_token_id
        rows = []
        for row, cap in zip(new, caps, strict=True):
            ids: list[int] = []
            for t in row:
                if t in eos_ids:
                    break
                ids.append(t)
            rows.append([t for t in ids if t != pad][: cap + 1])
        return rows

    def _batch(self, clips: list[np.ndarray], language: str) -> list[Transcript]:
        caps = [self.token_cap(len(c) / SR) for c in clips]
        rows = self.generate_ids(clips, language, caps)
        texts = self.processor.batch_decode([r[:cap] for r, cap in zip(rows, caps, strict=True)],
                                            skip_special_tokens=True)
        return [Transcript(text=t.strip(), truncated=len(r) >= cap)
                for t, r, cap in zip(texts, rows, caps, strict=True)]

    def transcribe(self, clips: list[np.ndarray], language: str, task: str = "transcribe",
                   prior: str | None = None) -> list[Transcript]:
        """Batches of similar length (rows finish together), answers in the clips' order."""
        if task != "transcribe":  # the gateway refuses it (the heartbeat's tasks)
            raise UnsupportedTask(f"Voxtral here transcribes only (task={task!r})")
        self.load()
        # "auto": the request carries no language and the model detects it (not reported).
        code: Any = None if language == "auto" else language
        order = sorted(range(len(clips)), key=lambda i: -len(clips[i]))
        if self.cfg.voxtral.length_buckets == 1:
            order = list(range(len(clips)))
        out = self._with_backoff([clips[i] for i in order], code)
        result: list[Transcript] = [Transcript("")] * len(clips)
        for i, t in zip(order, out, strict=True):
            t.language = code
            result[i] = t
        return result

    def _with_backoff(self, clips: list[np.ndarray], language: str) -> list[Transcript]:
        """Run in batches of the sizer's size; on CUDA OOM halve the batch and retry."""
        import torch

        out: list[Transcript] = []
        i = 0
        while i < len(clips):
            part = clips[i : i + self.sizer.size]
            try:
                out += self._batch(part, language)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                if not self.sizer.on_oom():
                    raise
                log.warning("CUDA out of memory; batch size now %d", self.sizer.size)
                continue
            i += len(part)
            before = self.sizer.size
            self.sizer.on_success()
            if self.sizer.size != before:
                log.info("batch size back up to %d after %d good batches", self.sizer.size, self.sizer.grow_after)
        return out
