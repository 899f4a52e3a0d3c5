"""The GPU benchmark's code path stays runnable: a CPU smoke run with the tiny model."""

from __future__ import annotations

import re
import subprocess
import sys

from ethos_testing.procs import ROOT


def test_stt_throughput_smoke() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "stt_throughput.py"), "--dry-run"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "batch   2" in out.stdout and "RTFx" in out.stdout and "FAILED" not in out.stdout
    for mode in ("eager", "static"):  # both modes, prefill and decode apart, with and without buckets
        for mix in ("mix/b1", "mix/b4"):
            assert re.search(rf"^  {mode} +{mix} ", out.stdout, re.M), (mode, mix)
    assert "prefill" in out.stdout and "ms/step" in out.stdout
