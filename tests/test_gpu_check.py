"""The prepared GPU check stays runnable: the script parses, every step it names exists, and
its summary renders what the steps leave behind. (``bash bench/gpu_check.sh --dry-run`` walks
the steps for real on CPU in a few minutes: too long for CI, run by hand.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ethos_testing.procs import ROOT

SCRIPT = ROOT / "bench" / "gpu_check.sh"


def test_script_parses_and_names_its_steps() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    text = SCRIPT.read_text()
    for piece in ("pytest -m gpu", "bench/stt_throughput.py", "--batches 1,8,32", "training.export_vllm",
                  "--tokenizer-mode mistral", "--in-flight 64", "gpu_check.py summary", "BUDGET"):
        assert piece in text, piece


def test_summary_block(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (tmp_path / "env.txt").write_text("NVIDIA H200; torch 2.13.0, transformers 5.24.0\n")
    (tmp_path / "tests.txt").write_text("4 passed in 50.1s\n")
    row = {"mode": "eager", "label": "20 s", "batch": 32, "rtfx": 412.5, "prefill_s": 1.2, "decode_s": 3.4,
           "ms_per_step": 41.0, "warmup_s": 2.0, "peak_gib": 30.1}
    (tmp_path / "stt.json").write_text(json.dumps({"device": "NVIDIA H200", "params_b": 4.68, "rows": [
        row, {"mode": "static", "error": "TorchRuntimeError: boom"}]}))
    (tmp_path / "vllm.txt").write_text("not run: vllm is not importable\n")
    block = mod.summary(tmp_path)
    assert block.startswith("```text") and block.endswith("```")
    assert "4 passed" in block and "412.5" in block and "static  FAILED: TorchRuntimeError" in block
    assert "vLLM: not run: vllm is not importable" in block
