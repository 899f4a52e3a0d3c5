"""The GPU benchmark's code path stays runnable: a CPU smoke run with the tiny model."""

from __future__ import annotations

import subprocess
import sys

from ethos_testing.procs import ROOT


def test_stt_throughput_smoke() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "stt_throughput.py"), "--tiny", "--quick"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "batch   2" in out.stdout and "RTFx" in out.stdout
