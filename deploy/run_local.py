"""``make run``: the whole system on one machine, no Docker (the embedded default).

Local-disk storage, a local Redis (started here if none answers), the gateway on port 8000,
one Celery worker process group per queue (cpu, stt, fer, webhooks; diarize unless
ETHOS_DIARIZE__ENABLED=false) and Celery beat (retention, the lost-job reaper). Ctrl-C stops
everything cleanly (workers and gateway first, Redis last).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from shared.logs import redacted
from shared.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("ethos.run")


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def start_redis(url: str, data: Path) -> subprocess.Popen[bytes]:
    u = urlparse(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"Redis at {url} does not answer, and it is not local: start it first")
    exe = shutil.which("redis-server")
    if not exe:
        sys.exit("no Redis answers and redis-server is not installed (apt-get install redis-server)")
    data.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [exe, "--port", str(u.port or 6379), "--bind", u.hostname or "127.0.0.1", "--dir", str(data),
         "--appendonly", "yes", "--save", ""],
        start_new_session=True,  # Ctrl-C reaches the workers; Redis is stopped last, by us
    )
    for _ in range(100):
        if redis_answers(url):
            return proc
        time.sleep(0.1)
    sys.exit("redis-server did not start")


def main() -> int:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = get_settings()
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    if not redis_answers(s.redis.url):
        log.info("no Redis at %s: starting one (data in data/redis)", redacted(s.redis.url))
        procs.append(("redis", start_redis(s.redis.url, ROOT / "data" / "redis")))
    py = sys.executable
    cores = os.cpu_count() or 2
    workers = [
        ("worker-cpu", ["-Q", "cpu", "-c", str(max(2, cores // 2)), "-n", "cpu@%h"]),
        ("worker-stt", ["-Q", "stt", "-c", "1", "-n", "stt@%h"]),  # one process per GPU
        ("worker-fer", ["-Q", "fer", "-c", str(max(1, cores // 2)), "-n", "fer@%h"]),
        # Callbacks apart: a slow receiver holds one of these, never a cpu process.
        ("worker-webhooks", ["-Q", "webhooks", "-c", "2", "-n", "webhooks@%h"]),
    ]
    if s.diarize.enabled:  # speakers, beside transcription (one process: it is light)
        workers.append(("worker-diarize", ["-Q", "diarize", "-c", "1", "-n", "diarize@%h"]))
    for name, args in workers:
        cmd = [py, "-m", "workers", "worker", "--loglevel", "INFO", *args]
        procs.append((name, subprocess.Popen(cmd, cwd=ROOT, env=env)))
    # Celery beat: retention and the lost-job reaper (workers/upkeep.py).
    (ROOT / "data").mkdir(exist_ok=True)
    procs.append(("beat", subprocess.Popen(
        [py, "-m", "workers", "beat", "--loglevel", "INFO", "-s", str(ROOT / "data" / "celerybeat-schedule")],
        cwd=ROOT, env=env)))
    procs.append(("gateway", subprocess.Popen([py, "-m", "gateway"], cwd=ROOT, env=env)))
    log.info("Ethos on http://%s:%d (storage: %s, auth: %s)", s.gateway.host, s.gateway.port,
             s.storage.backend, "required" if s.auth.required else "open")
    if not s.auth.required:
        log.warning("*** AUTH IS OFF (ETHOS_AUTH__REQUIRED=false): anyone who can reach port %d "
                    "can use this server and read every job. Fine on loopback; before exposing it, "
                    "set ETHOS_AUTH__REQUIRED=true and create a key: "
                    ".venv/bin/python -m gateway.admin keys create --name me ***", s.gateway.port)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, p in procs:
            if p.poll() is not None:
                log.error("%s exited with code %s; stopping everything", name, p.returncode)
                stopping, code = True, 1
                break
        time.sleep(0.5)
    # Gateway and workers first (a warm shutdown lets tasks finish or requeue), Redis last.
    apps = [(n, p) for n, p in procs if n != "redis"]
    infra = [(n, p) for n, p in procs if n == "redis"]
    for group in (apps, infra):
        for _n, p in group:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 20
        for n, p in group:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", n)
                p.kill()
    log.info("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
