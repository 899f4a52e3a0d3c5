"""The ``ethos`` command run as a real process against the running stack."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pysrt
import pytest
import webvtt

from ethos_testing.procs import ROOT, Stack


def ethos_command() -> list[str]:
    """The installed ``ethos`` script, or (before the package is reinstalled) exactly what the
    generated script runs: the ``[project.scripts]`` entry point from pyproject.toml."""
    installed = Path(sys.executable).parent / "ethos"
    if installed.exists():
        return [str(installed)]
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["ethos"]
    module, func = target.split(":")
    return [sys.executable, "-c", f"import sys; from {module} import {func}; sys.exit({func}())"]


def ethos(stack: Stack, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ethos_command(), "--url", stack.url, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **env})


def test_submit_wait_and_every_format(stack: Stack, jfk: Path, tmp_path: Path) -> None:
    r = ethos(stack, "submit", str(jfk), "--wait", "--language", "en", "--num-speakers", "1")
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.strip()
    assert job_id.startswith("job_") and f"{job_id} succeeded" in r.stderr
    assert "100%" in r.stderr  # the progress bar reached the end

    status = json.loads(ethos(stack, "status", job_id).stdout)
    assert status["status"] == "succeeded" and status["media"]["filename"] == "jfk.flac"

    result = json.loads(ethos(stack, "result", job_id).stdout)
    assert "country" in result["text"]
    out = tmp_path / "jfk.srt"
    assert ethos(stack, "result", job_id, "--format", "srt", "-o", str(out)).returncode == 0
    assert [s.text.split(" (")[0] for s in pysrt.open(str(out))] == [
        " ".join(s["text"].split()) for s in result["segments"]]
    vtt = tmp_path / "jfk.vtt"
    assert ethos(stack, "result", job_id, "--format", "vtt", "-o", str(vtt)).returncode == 0
    assert len(webvtt.read(str(vtt))) == len(result["segments"])
    rows = list(csv.DictReader(io.StringIO(ethos(stack, "result", job_id, "--format", "csv").stdout)))
    assert [float(r["start"]) for r in rows] == [s["start"] for s in result["segments"]]

    listing = ethos(stack, "jobs").stdout.splitlines()
    assert any(line.startswith(job_id) and "succeeded" in line and "jfk.flac" in line for line in listing)


def test_watch_prints_segments(stack: Stack, jfk: Path) -> None:
    job_id = ethos(stack, "submit", str(jfk)).stdout.strip()
    r = ethos(stack, "watch", job_id)
    assert r.returncode == 0, r.stderr
    assert "country" in r.stdout and r.stdout.strip().endswith(f"{job_id} succeeded")


def test_cancel_and_errors(stack: Stack, yongen: Path, tmp_path: Path) -> None:
    job_id = ethos(stack, "submit", str(yongen)).stdout.strip()
    r = ethos(stack, "cancel", job_id)
    assert r.returncode == 0 and r.stdout.strip() in (f"{job_id} canceled", f"{job_id} succeeded")
    assert json.loads(ethos(stack, "status", job_id).stdout)["status"] in ("canceled", "succeeded")
    gone = ethos(stack, "result", job_id)
    assert gone.returncode == 1 and "gone" in gone.stderr

    missing = ethos(stack, "status", "job_doesnotexist")
    assert missing.returncode == 2 and "not_found" in missing.stderr
    assert ethos(stack, "watch", "job_doesnotexist").returncode == 2
    bad = ethos(stack, "submit", str(tmp_path / "absent.wav"))
    assert bad.returncode == 1 and "absent.wav" in bad.stderr
    bad_speakers = ethos(stack, "submit", str(yongen), "--num-speakers", "0")
    assert bad_speakers.returncode == 1 and "num_speakers" in bad_speakers.stderr
    down = subprocess.run([*ethos_command(), "--url", "http://127.0.0.1:9", "jobs"], capture_output=True,
                          text=True, timeout=60)
    assert down.returncode == 1 and down.stderr.startswith("ethos:")


def test_async_client(stack: Stack, jfk: Path) -> None:
    from ethos_client import AsyncEthosClient, EthosError

    async def go() -> None:
        async with AsyncEthosClient(stack.url, api_key="unused-until-keys") as c:
            job = await c.submit(jfk, language="en")
            types = [ev["type"] async for ev in c.events(job["id"])]
            assert "segment" in types and types[-1] == "done"
            assert (await c.job(job["id"]))["status"] == "succeeded"
            assert any(j["id"] == job["id"] for j in await c.jobs())
            srt = await c.result(job["id"], "srt")
            assert isinstance(srt, str) and len(pysrt.from_string(srt)) >= 1
            with pytest.raises(EthosError) as e:
                await c.job("job_nope")
            assert e.value.status == 404

    asyncio.run(go())
