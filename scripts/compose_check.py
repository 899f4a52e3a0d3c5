"""``make compose-check``: build the images and run the whole CPU stack under Docker Compose.

1. A Docker engine: the running one, else ``dockerd`` started here (as root); none possible →
   a clear SKIPPED line and exit 0 (``--require``: exit 1).
2. ``deploy/build.sh`` (a local Debian base when Docker Hub is unreachable; the host's CA bundle
   as the extra bundle pip trusts during the build).
3. ``docker-compose`` up with deploy/docker-compose.yml + .cpu.yml + .check.yml (moto's S3
   server stands in for MinIO; the one-shot minio-init makes the bucket and exits 0 before
   the services start), every container healthy, ``/readyz`` ready.
4. jfk.flac and yongen.mp4 through the published gateway port: segments with text, a face
   timeline. ``--scale fer-worker=2``: both FER containers take chunks of one video.
5. The stt container killed (SIGKILL) while a job is being analysed (the German FLEURS clips of
   the multilingual set joined, about 3 minutes of speech, so the kill lands mid-transcript): the job succeeds after
   the container restarts (its unacked task comes back after the visibility timeout).
6. Metrics (gateway and a worker) and JSON logs with the job id; then ``down -v``.
Prints the time of each step.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILES = ["deploy/docker-compose.yml", "deploy/docker-compose.cpu.yml", "deploy/docker-compose.check.yml"]
SERVICES = ("redis", "minio", "gateway", "cpu-worker", "webhooks-worker", "stt-worker-cpu", "fer-worker",
            "flower")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Tight task limits so a task lost with its container comes back within a minute.
CELERY_ENV = {"ETHOS_CELERY__SOFT_TIME_LIMIT_S": "30", "ETHOS_CELERY__TIME_LIMIT_S": "40",
              "ETHOS_CELERY__VISIBILITY_TIMEOUT_S": "45",
              # the preview encode must give up before the task's soft limit (checked at start)
              "ETHOS_PREVIEW__TIMEOUT_S": "25"}


class CheckFailed(Exception):
    pass


def say(msg: str) -> None:
    sys.stdout.write(f"[compose-check] {msg}\n")
    sys.stdout.flush()


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                         text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise CheckFailed(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def wait(pred: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(every)
    raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last})" if last else ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the engine


def engine_answers() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=30).returncode == 0


def ensure_engine() -> str | None:
    """None when a Docker engine answers (started here if need be), else why not."""
    if shutil.which("docker") is None:
        return "no docker command (scripts/install-system.sh installs docker.io as root)"
    if engine_answers():
        return None
    if os.geteuid() != 0:
        return "the Docker engine does not answer and starting dockerd needs root"
    if shutil.which("dockerd") is None:
        return "no dockerd (scripts/install-system.sh installs docker.io as root)"
    say("starting dockerd (log: /tmp/ethos-dockerd.log)")
    with open("/tmp/ethos-dockerd.log", "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if engine_answers():
            return None
        time.sleep(1)
    return "dockerd did not start within 60 s (see /tmp/ethos-dockerd.log)"


def compose_cmd() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    raise CheckFailed("neither docker-compose nor the docker compose plugin is installed")


# --------------------------------------------------------------------------- the stack


class Stack:
    def __init__(self, project: str) -> None:
        self.project = project
        self.port = free_port()
        self.env = {
            "COMPOSE_PROJECT_NAME": project,
            "MINIO_ROOT_PASSWORD": secrets.token_hex(16),
            "ETHOS_S3_SECRET_KEY": secrets.token_hex(16),
            "REDIS_PASSWORD": secrets.token_hex(16),
            "FLOWER_BASIC_AUTH": f"check:{secrets.token_hex(8)}",
            "ETHOS_PORT": str(self.port),
            "MINIO_CONSOLE_PORT": str(free_port()),
            "FLOWER_PORT": str(free_port()),
            "ETHOS_FER__CHUNK_S": "3",
            # The diarize image needs the PyTorch CPU index, which this machine cannot reach.
            "ETHOS_DIARIZE__ENABLED": "false",
            **CELERY_ENV,
        }
        self.base = [*compose_cmd(), "-p", project, *[a for f in FILES for a in ("-f", f)]]
        self.url = f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([*self.base, *args], env=self.env, timeout=timeout, check=check)

    def containers(self, service: str | None = None) -> list[dict[str, str]]:
        flt = ["--filter", f"label=com.docker.compose.project={self.project}"]
        if service:
            flt += ["--filter", f"label=com.docker.compose.service={service}"]
        out = run(["docker", "ps", "-a", *flt, "--format", "{{.ID}}\t{{.Names}}\t{{.Status}}\t{{.Label \"com.docker.compose.service\"}}"]).stdout
        rows = []
        for line in out.splitlines():
            cid, name, status, svc = line.split("\t")
            rows.append({"id": cid, "name": name, "status": status, "service": svc})
        return rows

    def healthy(self, services: tuple[str, ...], fer: int = 1) -> bool:
        rows = self.containers()
        for svc in services:
            mine = [r for r in rows if r["service"] == svc]
            want = fer if svc == "fer-worker" else 1
            if sum("(healthy)" in r["status"] for r in mine) < want:
                return False
        return True

    def logs(self, tail: int = 40) -> str:
        return self.compose("logs", "--no-color", f"--tail={tail}", check=False).stdout


# The API key the check creates in the gateway container (compose requires keys).
HEADERS: dict[str, str] = {}


def client(url: str) -> Any:
    import httpx

    return httpx.Client(base_url=url, timeout=60, headers=HEADERS)


def create_key(stack: Stack) -> None:
    """Compose runs with keys required: a request without one is 401; make one with ethos-admin."""
    import httpx

    r = httpx.get(f"{stack.url}/v1/jobs", timeout=30)
    if r.status_code != 401:
        raise CheckFailed(f"GET /v1/jobs without a key: {r.status_code}, expected 401")
    out = stack.compose("exec", "-T", "gateway", "python", "-m", "gateway.admin", "keys", "create",
                        "--name", "compose-check", timeout=60).stdout
    m = re.search(r"ek_[0-9a-f]+_[A-Za-z0-9_-]+", out)
    if not m:
        raise CheckFailed(f"ethos-admin keys create printed no key: {out[:300]!r}")
    HEADERS["Authorization"] = f"Bearer {m.group(0)}"


ENDED = ("succeeded", "failed", "canceled")  # a job's final statuses


def submit(url: str, path: Path) -> str:
    with client(url) as c, open(path, "rb") as fh:
        r = c.post("/v1/jobs", files={"file": (path.name, fh)})
    if r.status_code != 202:
        raise CheckFailed(f"POST /v1/jobs {path.name}: {r.status_code} {r.text[:500]}")
    return str(r.json()["id"])


def finish(url: str, job_id: str, timeout: float) -> dict[str, Any]:
    with client(url) as c:
        def done() -> dict[str, Any] | None:
            j = c.get(f"/v1/jobs/{job_id}").json()
            return j if j["status"] in ENDED else None

        job = wait(done, timeout, f"job {job_id}", every=0.5)
        if job["status"] != "succeeded":
            raise CheckFailed(f"job {job_id} ended {job['status']}: {job.get('error')}")
        return c.get(f"/v1/jobs/{job_id}/result").json()  # type: ignore[no-any-return]


def metric(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def worker_metrics(container: str) -> str:
    code = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9100/metrics').read().decode())"
    return run(["docker", "exec", container, "python", "-c", code], timeout=60).stdout


# --------------------------------------------------------------------------- the check


def check(stack: Stack, media: Path, talking: Path, long_speech: Path, timings: dict[str, float]) -> None:
    t = time.monotonic()
    stack.compose("up", "-d", "--no-build", timeout=300)
    wait(lambda: stack.healthy(SERVICES), 240, "every container healthy", every=2)
    init = stack.containers("minio-init")
    if not init or not all(r["status"].startswith("Exited (0)") for r in init):
        raise CheckFailed(f"minio-init did not finish cleanly: {init}")
    with client(stack.url) as c:
        wait(lambda: c.get("/readyz").status_code == 200, 120, "/readyz 200", every=1)
    create_key(stack)
    timings["up, all healthy and ready"] = time.monotonic() - t

    t = time.monotonic()
    jfk = finish(stack.url, submit(stack.url, media / "jfk.flac"), 300)
    text = jfk["text"].lower()
    if not jfk["segments"] or "country" not in text:
        raise CheckFailed(f"jfk.flac: unexpected result: {jfk['text']!r}")
    timings["jfk.flac (11 s audio), first job"] = time.monotonic() - t
    say(f"jfk.flac: {len(jfk['segments'])} segments: {jfk['text'][:80]!r}")

    t = time.monotonic()
    video = finish(stack.url, submit(stack.url, media / "yongen.mp4"), 300)
    if not video["has_video"] or len(video["face_emotion_timeline"] or {}) < 8:
        raise CheckFailed(f"yongen.mp4: no face timeline: {json.dumps(video)[:600]}")
    timings["yongen.mp4 (10.7 s video, no audio)"] = time.monotonic() - t
    say(f"yongen.mp4: {len(video['face_emotion_timeline'])} face seconds")

    # The same face with jfk.flac as its sound track: speech segments and faces in one job.
    t = time.monotonic()
    both = finish(stack.url, submit(stack.url, talking), 300)
    if not both["segments"] or "country" not in both["text"].lower() or len(both["face_emotion_timeline"] or {}) < 8:
        raise CheckFailed(f"video with speech: segments or faces missing: {json.dumps(both)[:600]}")
    timings["yongen.mp4 + jfk.flac sound (segments and faces)"] = time.monotonic() - t
    say(f"video with speech: {len(both['segments'])} segments, {len(both['face_emotion_timeline'])} face seconds")

    t = time.monotonic()
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "fer-worker=2", "fer-worker", timeout=180)
    wait(lambda: stack.healthy(("fer-worker",), fer=2), 180, "two healthy fer-worker containers", every=2)
    with client(stack.url) as c:
        wait(lambda: len(c.get("/readyz").json()["dependencies"]["workers.fer"]["workers"]) == 2, 60,
             "two fer workers in /readyz")
    seen: set[str] = set()
    succeeded = 3  # jfk, yongen, the talking video
    for _ in range(3):  # which worker takes a chunk is the broker's choice; a few videos suffice
        res = finish(stack.url, submit(stack.url, media / "yongen.mp4"), 300)
        succeeded += 1
        seen |= {ch["worker"] for ch in res["face_chunks"] or [] if ch.get("worker")}
        if len(seen) >= 2:
            break
    if len(seen) < 2:
        raise CheckFailed(f"--scale fer-worker=2: chunks ran on {seen} only")
    timings["scale fer-worker=2, both take chunks"] = time.monotonic() - t
    say(f"fer chunks ran on {sorted(seen)}")

    t = time.monotonic()
    stt = stack.containers("stt-worker-cpu")[0]
    # A recording long enough to be caught mid-transcript: jfk.flac's stt step lasts half a
    # second on a fast CPU and was over before a poll saw it.
    job_id = submit(stack.url, long_speech)
    with client(stack.url) as c:
        def analysing() -> dict[str, Any] | None:
            j = c.get(f"/v1/jobs/{job_id}").json()
            return j if j.get("stage") == "analyzing" or j["status"] in ENDED else None

        caught = wait(analysing, 60, "the stt stage", every=0.05)
    if caught.get("stage") != "analyzing":
        raise CheckFailed(f"the job to kill the stt worker under ended {caught['status']} before its stt stage was seen")
    run(["docker", "kill", stt["id"]])
    redis_id = stack.containers("redis")[0]["id"]
    # Celery's Redis transport keeps delivered, unacknowledged messages in the hash "unacked".
    unacked = run(["docker", "exec", redis_id, "redis-cli", "HLEN", "unacked"]).stdout.strip()
    say(f"stt container killed while the job was being analysed ({unacked} task(s) left unacknowledged)")
    time.sleep(3)
    state = run(["docker", "inspect", "-f", "{{.State.Running}} {{.RestartCount}}", stt["id"]]).stdout.split()
    if state[0] != "true":
        run(["docker", "start", stt["id"]])  # `docker kill` counts as a manual stop for the restart policy
        say("stt container started again")
    else:
        say(f"stt container restarted by its policy (restarts: {state[1]})")
    killed = finish(stack.url, job_id, 240)
    succeeded += 1
    if not killed["segments"]:
        raise CheckFailed("the job of the killed stt container has no segments")
    timings["stt killed mid-job, job succeeded after restart"] = time.monotonic() - t

    t = time.monotonic()
    with client(stack.url) as c:
        page = c.get("/metrics").text
    done = metric(page, "ethos_jobs_finished_total", status="succeeded")
    if done != succeeded:
        raise CheckFailed(f"gateway /metrics: ethos_jobs_finished_total{{status=succeeded}} = {done}, want {succeeded}")
    fer_names = [r["name"] for r in stack.containers("fer-worker")]
    chunks = [metric(worker_metrics(n), "ethos_worker_tasks_total", task="ethos.fer.chunk", state="success") for n in fer_names]
    if not all(n > 0 for n in chunks):
        raise CheckFailed(f"fer worker metrics: chunks per container {chunks}")
    gw = stack.containers("gateway")[0]["id"]
    lines = [json.loads(ln) for ln in run(["docker", "logs", gw]).stderr.splitlines() if ln.startswith("{")]
    if not any(ln.get("job_id") == job_id for ln in lines):
        raise CheckFailed("gateway logs: no JSON line with the job id")
    timings["metrics and logs"] = time.monotonic() - t
    say(f"metrics: {done:.0f} jobs succeeded; fer chunks per container {chunks}; JSON logs carry job_id")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--require", action="store_true", help="fail (exit 1) instead of skipping without Docker")
    ap.add_argument("--no-build", action="store_true", help="use the images already built")
    ap.add_argument("--keep", action="store_true", help="leave the stack running (no down -v)")
    a = ap.parse_args(argv)
    start = time.monotonic()
    reason = ensure_engine()
    if reason:
        say(f"SKIPPED: Docker cannot run here: {reason}")
        return 1 if a.require else 0
    from ethos_testing.procs import media_dir

    media = media_dir()
    talking = Path(tempfile.mkdtemp(prefix="ethos-check-")) / "talking.mp4"
    run(["ffmpeg", "-v", "error", "-y", "-i", str(media / "yongen.mp4"), "-i", str(media / "jfk.flac"),
         "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest", str(talking)])
    long_speech = talking.with_name("long_speech.flac")
    fleurs = sorted((ROOT / "evaluation" / "sets" / "multilingual").glob("de_fleurs_*.ogg"))
    run(["ffmpeg", "-v", "error", "-y", *[x for f in fleurs for x in ("-i", str(f))], "-filter_complex",
         "".join(f"[{i}:a]" for i in range(len(fleurs))) + f"concat=n={len(fleurs)}:v=0:a=1", str(long_speech)])
    timings: dict[str, float] = {}
    if not a.no_build:
        t = time.monotonic()
        env = {"EXTRA_CA_BUNDLE": str(HOST_CA)} if HOST_CA.exists() else {}
        out = run(["bash", "deploy/build.sh"], env=env, timeout=1500)
        sys.stdout.write(out.stdout)
        timings["build images"] = time.monotonic() - t
    stack = Stack(f"ethoscheck{os.getpid()}")
    ok = False
    try:
        check(stack, media, talking, long_speech, timings)
        ok = True
    except (CheckFailed, subprocess.TimeoutExpired) as e:
        say(f"FAILED: {e}")
        sys.stdout.write(stack.logs())
    finally:
        if not a.keep:
            t = time.monotonic()
            stack.compose("down", "-v", "--remove-orphans", timeout=180, check=False)
            timings["down -v"] = time.monotonic() - t
        for step, secs in timings.items():
            say(f"{secs:7.1f} s  {step}")
        say(f"{time.monotonic() - start:7.1f} s  total ({'passed' if ok else 'FAILED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
