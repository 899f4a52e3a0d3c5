"""Real processes for tests: redis-server, Celery workers, the gateway, an S3 server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent


def media_dir() -> Path:
    """The shared real recordings: ``../shared/media`` beside the project root.

    A clone elsewhere (CI's) finds them through ``ETHOS_TEST_MEDIA`` or the workplace's
    ``/work/shared/media``.
    """
    for cand in (os.environ.get("ETHOS_TEST_MEDIA"), ROOT.parent / "shared" / "media",
                 "/work/shared/media"):
        if cand and (Path(cand) / "jfk.flac").exists():
            return Path(cand)
    raise RuntimeError("shared test media not found: set ETHOS_TEST_MEDIA to the folder with jfk.flac")


def __getattr__(name: str) -> Path:
    """``MEDIA``: the media folder, found when first asked for (benchmarks use it); tests take
    the ``media`` fixture instead, so pure unit tests collect without the recordings."""
    if name == "MEDIA":
        return media_dir()
    raise AttributeError(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vm(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory figure (``VmRSS``, ``VmHWM``…) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, every: float = 0.1, what: str = "condition") -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception:  # noqa: BLE001 - retried until the deadline
            pass
        time.sleep(every)
    raise TimeoutError(f"timed out waiting for {what}")


class RedisServer:
    """A private redis-server on a free port."""

    def __init__(self, tmp: Path, appendonly: bool = False) -> None:
        self.port = free_port()
        self.dir = tmp
        self.appendonly = appendonly
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "yes" if self.appendonly else "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: redis.Redis(port=self.port).ping(), 10, what="redis")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def local_env(tmp: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment for a stack on local-disk storage under ``tmp``. Diarization is off unless
    ``extra`` turns it on (``ETHOS_DIARIZE__ENABLED="true"`` with a diarize worker): stacks
    about other things keep to the workers they start."""
    return {
        "ETHOS_DIARIZE__ENABLED": "false",
        # Jobs without a language stay English (tiny.en, cheap); detection tests send "auto".
        "ETHOS_GATEWAY__DEFAULT_LANGUAGE": "en",
        "ETHOS_REDIS__URL": redis_url,
        "ETHOS_STORAGE__BACKEND": "local",
        "ETHOS_STORAGE__LOCAL_ROOT": str(tmp / "storage"),
        "ETHOS_WORK_DIR": str(tmp / "work"),
        **extra,
    }


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""


@dataclass
class Stack:
    """Gateway + workers as real processes sharing one environment."""

    env: dict[str, str]
    logs: Path
    port: int = 0
    procs: list[Proc] = field(default_factory=list)
    redis: RedisServer | None = None  # set by private_stack()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, name: str, cmd: list[str], extra_env: dict[str, str] | None = None) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        fh = open(log, "ab")  # noqa: SIM115 - owned by the child
        env = {**os.environ, **self.env, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                             start_new_session=True)
        proc = Proc(name, p, log)
        self.procs.append(proc)
        return proc

    def worker(self, queue: str, concurrency: int = 1, name: str | None = None,
               extra: list[str] | None = None, extra_env: dict[str, str] | None = None,
               prefix: list[str] | None = None) -> Proc:
        node = name or f"{queue}-{len(self.procs)}"
        cmd = [*(prefix or []), sys.executable, "-m", "workers", "worker", "-Q", queue,
               "-c", str(concurrency), "-n", f"{node}@%h", "--loglevel", "INFO",
               "--without-gossip", "--without-mingle", *(extra or [])]
        proc = self.spawn(node, cmd, extra_env)
        wait_for(lambda: "ready." in proc.log.read_text(errors="replace") or not proc.alive(),
                 60, what=f"worker {node}")
        assert proc.alive(), proc.tail()
        return proc

    def gateway(self) -> Proc:
        self.port = free_port()
        proc = self.spawn("gateway", [sys.executable, "-m", "gateway"],
                          {"ETHOS_GATEWAY__PORT": str(self.port)})
        wait_for(lambda: httpx.get(self.url + "/healthz", timeout=1).status_code == 200, 30,
                 what="gateway")
        return proc

    def stop(self, proc: Proc, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if proc.alive():
            os.killpg(proc.popen.pid, sig)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(5)

    def close(self) -> None:
        for p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()

    # client helpers
    def events(self, job_id: str) -> list[dict[str, Any]]:
        """The job's event log, read through the job store."""
        from shared.jobs import JobStore, connect

        store = JobStore(connect(self.env["ETHOS_REDIS__URL"]))
        try:
            return [e for _, e in store.events(job_id)]
        finally:
            store.close()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def submit(self, path: Path, name: str | None = None, field_name: str = "file",
               data: dict[str, str] | None = None) -> httpx.Response:
        with self.client() as c, open(path, "rb") as fh:
            return c.post("/v1/jobs" if field_name == "file" else "/api/transcribe-diarize",
                          files={field_name: (name or path.name, fh)}, data=data or {})

    def wait_job(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        with self.client() as c:
            def done() -> dict[str, Any] | None:
                j = c.get(f"/v1/jobs/{job_id}").json()
                return j if j["status"] in ("succeeded", "failed", "canceled") else None
            try:
                return wait_for(done, timeout, 0.1, what=f"job {job_id}")  # type: ignore[no-any-return]
            except TimeoutError:
                logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.procs)
                raise TimeoutError(f"job {job_id} did not finish\n{logs}") from None

    def run_job(self, path: Path, **kw: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        r = self.submit(path, **kw)
        assert r.status_code == 202, r.text
        job = self.wait_job(r.json()["id"])
        result = None
        if job["status"] == "succeeded":
            with self.client() as c:
                result = c.get(f"/v1/jobs/{job['id']}/result").json()
        return job, result


@contextlib.contextmanager
def private_stack(tmp: Path, appendonly: bool = False, **env: str) -> Iterator[Stack]:
    """A stack of its own: a private redis-server (``stack.redis``), local-disk storage under
    ``tmp`` and ``env`` on top; start the workers and the gateway you need on it. Every process
    is stopped on exit, Redis last."""
    redis_srv = RedisServer(tmp / "redis", appendonly=appendonly).start()
    st = Stack(env=local_env(tmp, redis_srv.url, **env), logs=tmp / "logs")
    st.redis = redis_srv
    try:
        yield st
    finally:
        st.close()
        redis_srv.stop()
