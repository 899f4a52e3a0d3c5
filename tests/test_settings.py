"""Settings fail fast on bad values; the gateway stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from ethos_testing.procs import ROOT
from shared.settings import Settings


def test_bad_values_fail_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETHOS_VAD__THRESHOLD", "2")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("ETHOS_VAD__THRESHOLD")
    monkeypatch.setenv("ETHOS_STORAGE__BACKEND", "ftp")
    with pytest.raises(ValidationError):
        Settings()


def test_original_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_ID", "/models/voxtral")
    monkeypatch.setenv("ADAPTER_ID", "YongkangZOU/evoxtral-lora")
    s = Settings()
    assert s.stt.voxtral.model_id == "/models/voxtral" and s.stt.voxtral.adapter_id == "YongkangZOU/evoxtral-lora"


def test_gateway_imports_no_model_code() -> None:
    code = ("import sys; from gateway.app import create_app; create_app(); "
            "heavy = [m for m in ('torch', 'transformers', 'onnxruntime', 'cv2', 'ctranslate2', 'faster_whisper') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
