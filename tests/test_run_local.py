"""``make run`` (deploy/run_local.py) on a private Redis: it starts Celery beat beside the
workers and the gateway, runs open, and says so loudly at start and in /readyz."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from ethos_testing.procs import ROOT, RedisServer, free_port, local_env, wait_for


def test_make_run_starts_beat_and_warns_when_open(tmp_path: Path) -> None:
    redis_srv = RedisServer(tmp_path / "redis").start()
    port = free_port()
    env = {**os.environ, **local_env(tmp_path, redis_srv.url), "ETHOS_GATEWAY__PORT": str(port),
           "ETHOS_RETENTION__SWEEP_EVERY_S": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("ETHOS_AUTH__REQUIRED", None)
    log = tmp_path / "run.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "deploy/run_local.py"], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(url + "/healthz", timeout=1).status_code == 200, 90, what="gateway")
        assert httpx.get(url + "/readyz", timeout=10).json()["auth"] == "open"
        # beat sends the upkeep task every second and the cpu worker runs it
        wait_for(lambda: "ethos.upkeep" in log.read_text(errors="replace")
                 and "succeeded" in log.read_text(errors="replace"), 120, 0.5, what="upkeep run")
        text = log.read_text(errors="replace")
        assert "AUTH IS OFF" in text and "auth: open" in text
        assert "beat: Starting" in text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        redis_srv.stop()
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
