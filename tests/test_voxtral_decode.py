"""The transformers engine's decoding options on the tiny Voxtral: batches regrouped by length
(answers still in order), each row stopped at its own cap, and the static KV cache
(``ETHOS_STT__DECODE=static``; compiled on CUDA only) giving the eager tokens."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TypedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ethos_testing.tiny_voxtral import build_adapter, build_model  # noqa: E402
from shared.settings import SttSettings  # noqa: E402
from workers.stt.engines.voxtral import VoxtralEngine, request_flags, static_kwargs  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny-voxtral-decode")
    model = build_model(root / "model")
    return model, build_adapter(model, root / "adapter")


def engine(tiny: tuple[Path, Path], **kw: object) -> VoxtralEngine:
    e = VoxtralEngine(SttSettings(engine="voxtral", model_id=str(tiny[0]), adapter_id=str(tiny[1]),
                                  tokens_per_second=1.0, min_new_tokens_cap=2, **kw))  # type: ignore[arg-type]
    e.load()
    return e


def clips(seconds: list[float]) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.normal(0, 0.1, round(16000 * s)).astype(np.float32) for s in seconds]


LENGTHS = [1.0, 5.0, 3.0, 4.0]


def test_length_buckets_keep_order_and_rows_stop_at_their_caps(tiny: tuple[Path, Path]) -> None:
    e = engine(tiny, batch_size=2, length_buckets=2)
    assert e.segments_per_call == 4 and e.batch_size == 2
    cs = clips(LENGTHS)
    caps = [e.token_cap(len(c) / 16000) for c in cs]
    one_by_one = [e.generate_ids([c], "en", [cap])[0] for c, cap in zip(cs, caps, strict=True)]
    # Random weights never say EOS: every row runs to its own cap (cap + 0: stopped there).
    assert [len(r) for r in one_by_one] == caps
    sent: list[int] = []
    real = e._batch

    def spy(part: list[np.ndarray], language: str):  # type: ignore[no-untyped-def]
        sent.extend(round(len(c) / 16000) for c in part)
        return real(part, language)

    e._batch = spy  # type: ignore[method-assign]
    out = e.transcribe(cs, "en")
    assert sent == sorted(sent, reverse=True)  # the GPU saw the longest first, similar lengths together
    texts = e.processor.batch_decode(one_by_one, skip_special_tokens=True)
    assert [t.text for t in out] == [t.strip() for t in texts]
    assert all(t.truncated for t in out)


def test_static_cache_gives_the_eager_tokens(tiny: tuple[Path, Path]) -> None:
    eager = engine(tiny, batch_size=4)
    static = engine(tiny, batch_size=4, decode="static")
    cs = clips(LENGTHS[:3])  # a short batch: padded to 4 rows in static mode
    caps = [eager.token_cap(len(c) / 16000) for c in cs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = static.generate_ids(cs, "en", caps)
    assert got == eager.generate_ids(cs, "en", caps)
    assert static.info().extra["decode"] == "static"
    kw = static_kwargs("reduce-overhead", 70)
    assert kw["cache_implementation"] == "static" and kw["max_new_tokens"] == 128
    assert kw["compile_config"].mode == "reduce-overhead" and kw["compile_config"].dynamic is False


class _Text(TypedDict, total=False):
    tokenize: bool
    return_dict: bool


class _Kwargs(TypedDict, total=False):
    text_kwargs: _Text


class _NewProcessor:  # as on transformers main: the request takes tokenize/return_dict
    valid_processor_kwargs = _Kwargs


def test_request_flags_are_passed_where_the_processor_takes_them() -> None:
    from transformers import VoxtralProcessor

    assert request_flags(_NewProcessor) == {"tokenize": True, "return_dict": True}
    flags = request_flags(VoxtralProcessor)
    assert flags in ({}, {"tokenize": True, "return_dict": True})  # 5.24: {} (it would warn "not valid")


@pytest.mark.gpu
def test_static_compiled_on_cuda_gives_the_eager_tokens(tiny: tuple[Path, Path]) -> None:
    eager = engine(tiny, batch_size=4, device="cuda")
    static = engine(tiny, batch_size=4, device="cuda", decode="static")
    cs = clips(LENGTHS)
    caps = [eager.token_cap(len(c) / 16000) for c in cs]
    want = eager.generate_ids(cs, "en", caps, suppress_tokens=[2])
    for _ in range(2):  # the second call runs the compiled graphs
        got = static.generate_ids(cs, "en", caps, suppress_tokens=[2])
        assert [len(r) for r in got] == [len(r) for r in want] == caps
        # bf16 with other kernels: near ties may flip a token, the rest must agree.
        same = sum(a == b for g, w in zip(got, want, strict=True) for a, b in zip(g, w, strict=True))
        assert same >= 0.9 * sum(caps), (got, want)
