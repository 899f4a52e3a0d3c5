"""The harness's side of the HTTP API: submit a clip, wait for the job, fetch the result."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import httpx

from shared.schemas import JobView, Result

TERMINAL = ("succeeded", "failed", "canceled")


class EthosUnreachable(RuntimeError):
    """The Ethos at ``--url`` did not answer."""


class JobFailed(RuntimeError):
    """A job ended without a result; the message carries the server's error."""


def _seconds_between(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


class EthosClient:
    """A running Ethos, reached over its public HTTP API."""

    def __init__(self, url: str, timeout_s: float = 600.0, poll_s: float = 0.2,
                 api_key: str | None = None) -> None:
        key = api_key if api_key is not None else os.environ.get("ETHOS_API_KEY")
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=60.0,
                                 headers={"Authorization": f"Bearer {key}"} if key else {})
        self.url = url
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    def __enter__(self) -> EthosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def check(self) -> None:
        """Raise EthosUnreachable unless ``/healthz`` answers."""
        try:
            self.http.get("/healthz", timeout=5.0).raise_for_status()
        except httpx.HTTPError as e:
            raise EthosUnreachable(f"no Ethos answers at {self.url} ({type(e).__name__}: {e}); "
                                   "start one with `make run` or pass --url") from e

    def transcribe(self, audio: Path, language: str) -> tuple[Result, JobView]:
        """Submit one file, wait for its job, and return the result with the final job view."""
        with open(audio, "rb") as fh:
            r = self.http.post("/v1/jobs", files={"file": (audio.name, fh)}, data={"language": language})
        if r.status_code != 202:
            raise JobFailed(f"submission refused: HTTP {r.status_code} {_error(r)}")
        job_id = r.json()["id"]
        job = self.wait(job_id)
        if job.status != "succeeded":
            err = f"{job.error.code}: {job.error.message}" if job.error else job.status
            raise JobFailed(f"job {job_id} {job.status} ({err})")
        r = self.http.get(f"/v1/jobs/{job_id}/result")
        if r.status_code != 200:
            raise JobFailed(f"job {job_id}: result HTTP {r.status_code} {_error(r)}")
        return Result.model_validate(r.json()), job

    def wait(self, job_id: str) -> JobView:
        """Poll the job until it ends (or the timeout passes)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            r = self.http.get(f"/v1/jobs/{job_id}")
            r.raise_for_status()
            job = JobView.model_validate(r.json())
            if job.status in TERMINAL:
                return job
            if time.monotonic() > deadline:
                raise JobFailed(f"job {job_id} still {job.status} after {self.timeout_s:.0f} s")
            time.sleep(self.poll_s)


def wall_seconds(job: JobView) -> float | None:
    """Submission to finish, as the server recorded it."""
    return _seconds_between(job.created_at, job.finished_at)


def _error(r: httpx.Response) -> str:
    try:
        err = r.json()["error"]
        return f"{err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        return r.text[:200]
