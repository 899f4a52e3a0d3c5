"""Retention, DELETE, the lost-job reaper and poison jobs, through real Celery workers and a
real Celery beat."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import httpx
import psutil
import redis

from ethos_testing.procs import Stack, private_stack, wait_for


def beat(st: Stack, tmp: Path) -> None:
    st.spawn("beat", [sys.executable, "-m", "workers", "beat", "--loglevel", "INFO",
                      "-s", str(tmp / "beat-schedule")])


def objects(st: Stack, job_id: str) -> list[str]:
    """Every stored object of the job (local storage: files under jobs/<id>/)."""
    folder = Path(st.env["ETHOS_STORAGE__LOCAL_ROOT"]) / "jobs" / job_id
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def redis_keys(st: Stack, job_id: str) -> list[str]:
    r = redis.Redis.from_url(st.env["ETHOS_REDIS__URL"], decode_responses=True)
    return sorted(k for k in r.scan_iter("*") if job_id in k or (r.type(k) in ("zset", "set")
                                                                  and _member(r, k, job_id)))


def _member(r: redis.Redis, key: str, job_id: str) -> bool:
    if r.type(key) == "zset":
        return r.zscore(key, job_id) is not None
    return bool(r.sismember(key, job_id))


def test_delete_and_retention_remove_every_stored_object(tmp_path: Path, jfk: Path) -> None:
    with private_stack(tmp_path, ETHOS_STT__ENGINE="fasterwhisper", ETHOS_RETENTION__PERIOD_S="25",
                       ETHOS_RETENTION__SWEEP_EVERY_S="1") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.gateway()
        # DELETE: every object of a finished job goes; the record stays as a tombstone
        job, result = st.run_job(jfk)
        assert job["status"] == "succeeded" and result
        before = objects(st, job["id"])
        assert {"result.json", "stt.json"} <= set(before) and any(o.startswith("input") for o in before)
        with st.client() as c:
            gone = c.delete(f"/v1/jobs/{job['id']}").json()
            assert gone["deleted"] is True
            assert objects(st, job["id"]) == []
            assert c.get(f"/v1/jobs/{job['id']}/result").status_code == 410
            assert c.get(f"/v1/jobs/{job['id']}/media").status_code == 410

        # retention: Celery beat's upkeep removes the objects and then the records
        beat(st, tmp_path)
        kept, _ = st.run_job(jfk)
        assert objects(st, kept["id"]) and redis_keys(st, kept["id"])
        with st.client() as c:
            wait_for(lambda: c.get(f"/v1/jobs/{kept['id']}").status_code == 404, 90, 0.5,
                     what="retention")
            assert objects(st, kept["id"]) == []
            assert redis_keys(st, kept["id"]) == []
            assert redis_keys(st, job["id"]) == []  # the tombstone went too
            assert c.get("/v1/jobs").json()["jobs"] == []


def test_lost_job_is_failed_by_the_reaper(tmp_path: Path, silent_wav: Path) -> None:
    """The broker loses the queued task (its list is deleted): beat's reaper fails the job."""
    with private_stack(tmp_path, ETHOS_RETENTION__LOST_AFTER_S="3", ETHOS_RETENTION__SWEEP_EVERY_S="1") as st:
        st.gateway()
        r = st.submit(silent_wav)
        assert r.status_code == 202
        job_id = r.json()["id"]
        broker = redis.Redis.from_url(st.env["ETHOS_REDIS__URL"])
        assert broker.llen("cpu") == 1
        broker.delete("cpu")  # the queued work vanishes
        st.worker("cpu", 1, name="cpu")
        beat(st, tmp_path)
        job = st.wait_job(job_id, timeout=60)
        assert job["status"] == "failed"
        assert job["error"]["code"] == "lost" and "3 s" in job["error"]["message"]
        events = st.events(job_id)
        assert events[-1] == {**events[-1], "type": "status", "status": "failed"}


def test_poison_job_fails_after_bounded_deliveries(tmp_path: Path, long_face_video: Path) -> None:
    """Each time the prepare task starts, its worker process is killed (as an OOM killer
    would): after ``celery.max_deliveries`` deliveries the job fails instead of looping."""
    with private_stack(tmp_path, ETHOS_CELERY__MAX_DELIVERIES="2") as st:
        worker = st.worker("cpu", 1, name="cpu")
        st.gateway()
        r = redis.Redis.from_url(st.env["ETHOS_REDIS__URL"], decode_responses=True)
        kills: list[int] = []
        stop = threading.Event()
        accepted = st.submit(long_face_video)
        assert accepted.status_code == 202
        job_id = accepted.json()["id"]

        def killer() -> None:  # kill the pool child each time a delivery is counted
            seen = 0
            while not stop.is_set():
                n = sum(int(v) for v in r.hvals(f"ethos:job:{job_id}:attempts"))
                if n > seen:
                    seen = n
                    for child in psutil.Process(worker.popen.pid).children(recursive=True):
                        child.send_signal(signal.SIGKILL)
                    kills.append(n)
                stop.wait(0.005)

        t = threading.Thread(target=killer, daemon=True)
        t.start()
        try:
            job = st.wait_job(job_id, timeout=120)
        finally:
            stop.set()
            t.join(5)
        assert job["status"] == "failed", job
        assert job["error"]["code"] == "worker_lost"
        assert "died each time" in job["error"]["message"]
        assert kills[:2] == [1, 2]  # two deliveries killed; the third failed the job
        assert worker.alive()  # the worker itself survives and takes the next job
        with httpx.Client(base_url=st.url) as c:
            assert c.get("/readyz").json()["dependencies"]["workers.cpu"]["state"] == "ok"
