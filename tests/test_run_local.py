"""``make run`` (deploy/run_local.py) on a private Redis: it starts Celery beat beside the
workers and the gateway, runs open, and says so loudly at start and in /readyz."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from deploy.run_local import lower_priority
from ethos_testing.procs import ROOT, RedisServer, free_port, local_env, wait_for


def worker_niceness(session: int) -> dict[str, int]:
    """Each Celery worker queue of the process session ``session`` and its main process's
    niceness (field 19 of /proc/PID/stat)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if int(fields[3]) != session or b"-Q" not in argv:  # fields[3]: the session id
            continue
        queue = argv[argv.index(b"-Q") + 1].decode()
        found[queue] = min(found.get(queue, 19), int(fields[16]))
    return found


def test_lower_priority_makes_the_child_nicer() -> None:
    assert lower_priority(0) is None
    probe = [sys.executable, "-c", "import os; print(os.nice(0))"]
    own = os.nice(0)
    out = subprocess.run(probe, preexec_fn=lower_priority(3), capture_output=True, text=True, check=True)
    assert int(out.stdout) == min(19, own + 3)


def test_make_run_starts_beat_and_warns_when_open(tmp_path: Path) -> None:
    redis_srv = RedisServer(tmp_path / "redis").start()
    port = free_port()
    env = {**os.environ, **local_env(tmp_path, redis_srv.url), "ETHOS_GATEWAY__PORT": str(port),
           "ETHOS_RETENTION__SWEEP_EVERY_S": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("ETHOS_AUTH__REQUIRED", None)
    env["ETHOS_DIARIZE__ENABLED"] = "true"  # its worker is one of the nicer ones
    env["ETHOS_CELERY__BESIDE_NICE"] = "7"
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
        # the steps beside transcription yield the shared cores to it (celery.beside_nice)
        own = os.nice(0)
        nice = worker_niceness(proc.pid)
        assert nice == {"cpu": own, "stt": own, "webhooks": own,
                        "fer": min(19, own + 7), "diarize": min(19, own + 7)}, nice
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        redis_srv.stop()
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
