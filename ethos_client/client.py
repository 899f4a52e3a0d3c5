"""Sync and async clients for the v1 job API; events come over the job's websocket.

Self-contained: it depends on httpx and websockets only, never on the server's modules.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
FINAL_STATUSES = ("succeeded", "failed", "canceled")
FORMATS = ("json", "srt", "vtt", "csv", "faces.csv")


class EthosError(Exception):
    """An error answer from the server (``status``, ``code``, ``message``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def _raise_for(r: httpx.Response) -> None:
    if r.is_success:
        return
    try:
        body = r.json()
    except ValueError:
        body = {}
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        raise EthosError(r.status_code, str(err.get("code", "error")), str(err.get("message", "")))
    detail = body.get("detail") if isinstance(body, dict) else None
    raise EthosError(r.status_code, "error", str(detail or r.text[:200]))


def _is_final(event: dict[str, Any]) -> bool:
    return event.get("type") in ("done", "error") or (
        event.get("type") == "status" and event.get("status") in ("failed", "canceled"))


def _headers(api_key: str | None) -> dict[str, str]:
    key = api_key if api_key is not None else os.environ.get("ETHOS_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _form(language: str | None, num_speakers: int | None, callback_url: str | None) -> dict[str, str]:
    data = {"language": language, "num_speakers": num_speakers, "callback_url": callback_url}
    return {k: str(v) for k, v in data.items() if v is not None}


def _ws_url(base: str, job_id: str) -> str:
    scheme, rest = base.rstrip("/").split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/v1/jobs/{job_id}/events"


def _result_params(fmt: str, version: int | None) -> dict[str, Any]:
    return {"format": fmt, **({"version": version} if version is not None else {})}


def vocal_events(result: dict[str, Any], tag: str | None = None,
                 standalone: bool | None = None) -> list[dict[str, Any]]:
    """A result's vocal and context events (``[{start, end, label, tag, score, source,
    segment}]``), optionally only one ``tag`` (``"laughs"``) or only those that stand on their
    own between segments (``standalone=True``) or sit in a segment's text (``False``)."""
    out = []
    for e in result.get("events") or []:
        if tag is not None and e.get("tag") != tag:
            continue
        if standalone is not None and (e.get("segment") is None) != standalone:
            continue
        out.append(e)
    return out


def _correction(segments: list[dict[str, Any]], version: int) -> dict[str, Any]:
    """The PUT body and headers that correct result ``version`` (412 if it is no longer the latest)."""
    return {"json": {"segments": segments}, "headers": {"If-Match": f'"v{version}"'}}


def _recount(num_speakers: int | None, min_speakers: int | None, max_speakers: int | None,
             version: int | None) -> dict[str, Any]:
    body = {k: v for k, v in (("num_speakers", num_speakers), ("min_speakers", min_speakers),
                              ("max_speakers", max_speakers)) if v is not None}
    return {"json": body, "headers": {"If-Match": f'"v{version}"'} if version else {}, "timeout": 180.0}


def _result(r: httpx.Response, fmt: str) -> dict[str, Any] | str:
    _raise_for(r)
    return r.json() if fmt == "json" else r.text  # type: ignore[no-any-return]


class EthosClient:
    """Blocking client. ``api_key`` (or ``ETHOS_API_KEY``) goes in ``Authorization: Bearer``."""

    def __init__(self, url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.headers = _headers(api_key)
        self.http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def __enter__(self) -> EthosClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def submit(self, path: str | Path, language: str | None = None, num_speakers: int | None = None,
               callback_url: str | None = None) -> dict[str, Any]:
        """Upload a file as a job → ``{"id", "status", "links"}``."""
        p = Path(path)
        with p.open("rb") as fh:
            r = self.http.post("/v1/jobs", files={"file": (p.name, fh)},
                               data=_form(language, num_speakers, callback_url))
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    def job(self, job_id: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/jobs/{job_id}")
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    def jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        r = self.http.get("/v1/jobs", params={"limit": limit})
        _raise_for(r)
        return r.json()["jobs"]  # type: ignore[no-any-return]

    def result(self, job_id: str, format: str = "json", version: int | None = None) -> dict[str, Any] | str:
        """The result (the latest version, or ``version``): a dict for ``json``, text for
        ``srt``, ``vtt``, ``csv``, ``faces.csv``."""
        return _result(self.http.get(f"/v1/jobs/{job_id}/result", params=_result_params(format, version)), format)

    def vocal_events(self, job_id: str, tag: str | None = None) -> list[dict[str, Any]]:
        """The finished job's vocal and context events (see :func:`vocal_events`)."""
        result = self.result(job_id)
        assert isinstance(result, dict)
        return vocal_events(result, tag)

    def correct(self, job_id: str, segments: list[dict[str, Any]], version: int) -> dict[str, Any]:
        """Save corrected ``segments`` over result ``version`` (the ``version`` of the result you
        read) → the new version; EthosError 412 when someone saved since."""
        r = self.http.put(f"/v1/jobs/{job_id}/result", **_correction(segments, version))
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    def name_speakers(self, job_id: str, names: dict[str, str]) -> dict[str, Any]:
        """Name a finished job's speakers (``{"SPEAKER_00": "Alice"}``) → the result with them."""
        r = self.http.patch(f"/v1/jobs/{job_id}/speakers", json={"names": names})
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    def recount_speakers(self, job_id: str, num_speakers: int | None = None, min_speakers: int | None = None,
                         max_speakers: int | None = None, version: int | None = None) -> dict[str, Any]:
        """Count a finished job's speakers again (exactly ``num_speakers``, within bounds, or
        automatically) without transcribing again → the result as a new version; ``version``:
        the version you read (EthosError 412 when the result changed since)."""
        r = self.http.post(f"/v1/jobs/{job_id}/speakers/recount",
                           **_recount(num_speakers, min_speakers, max_speakers, version))
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel (if unfinished) and delete the job's media and result."""
        r = self.http.delete(f"/v1/jobs/{job_id}")
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    def webhook_secret(self, rotate: bool = False) -> dict[str, Any]:
        """This key's webhook signing secret (``{"secret", "previous_valid_until"}``); with
        ``rotate`` a new one (the previous one still signs beside it for a grace period)."""
        r = self.http.post("/v1/webhook-secret") if rotate else self.http.get("/v1/webhook-secret")
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    def events(self, job_id: str) -> Iterator[dict[str, Any]]:
        """The job's events from the first, live over the websocket, until the final one."""
        from websockets.sync.client import connect

        with connect(_ws_url(self.url, job_id), additional_headers=self.headers) as ws:
            for raw in ws:
                event = json.loads(raw)
                if event.get("type") == "error" and event.get("code") == "not_found":
                    raise EthosError(404, "not_found", str(event.get("message")))
                yield event
                if _is_final(event):
                    return

    def wait(self, job_id: str, timeout: float | None = None, every_s: float = 0.5) -> dict[str, Any]:
        """Poll until the job ends; the final job record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in FINAL_STATUSES:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']}")
            time.sleep(every_s)


class AsyncEthosClient:
    """The same calls as :class:`EthosClient`, awaitable."""

    def __init__(self, url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.headers = _headers(api_key)
        self.http = httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=timeout)

    async def __aenter__(self) -> AsyncEthosClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def submit(self, path: str | Path, language: str | None = None, num_speakers: int | None = None,
                     callback_url: str | None = None) -> dict[str, Any]:
        p = Path(path)
        with p.open("rb") as fh:
            r = await self.http.post("/v1/jobs", files={"file": (p.name, fh)},
                                     data=_form(language, num_speakers, callback_url))
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    async def job(self, job_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/jobs/{job_id}")
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    async def jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        r = await self.http.get("/v1/jobs", params={"limit": limit})
        _raise_for(r)
        return r.json()["jobs"]  # type: ignore[no-any-return]

    async def result(self, job_id: str, format: str = "json", version: int | None = None) -> dict[str, Any] | str:
        return _result(await self.http.get(f"/v1/jobs/{job_id}/result", params=_result_params(format, version)),
                       format)

    async def vocal_events(self, job_id: str, tag: str | None = None) -> list[dict[str, Any]]:
        result = await self.result(job_id)
        assert isinstance(result, dict)
        return vocal_events(result, tag)

    async def correct(self, job_id: str, segments: list[dict[str, Any]], version: int) -> dict[str, Any]:
        r = await self.http.put(f"/v1/jobs/{job_id}/result", **_correction(segments, version))
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    async def name_speakers(self, job_id: str, names: dict[str, str]) -> dict[str, Any]:
        r = await self.http.patch(f"/v1/jobs/{job_id}/speakers", json={"names": names})
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    async def recount_speakers(self, job_id: str, num_speakers: int | None = None,
                               min_speakers: int | None = None, max_speakers: int | None = None,
                               version: int | None = None) -> dict[str, Any]:
        r = await self.http.post(f"/v1/jobs/{job_id}/speakers/recount",
                                 **_recount(num_speakers, min_speakers, max_speakers, version))
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    async def cancel(self, job_id: str) -> dict[str, Any]:
        r = await self.http.delete(f"/v1/jobs/{job_id}")
        _raise_for(r)
        return r.json()  # type: ignore[no-any-return]

    async def events(self, job_id: str) -> AsyncIterator[dict[str, Any]]:
        from websockets.asyncio.client import connect

        async with connect(_ws_url(self.url, job_id), additional_headers=self.headers) as ws:
            async for raw in ws:
                event = json.loads(raw)
                if event.get("type") == "error" and event.get("code") == "not_found":
                    raise EthosError(404, "not_found", str(event.get("message")))
                yield event
                if _is_final(event):
                    return

    async def wait(self, job_id: str) -> dict[str, Any]:
        """Follow the events to the end; the final job record."""
        async for _ in self.events(job_id):
            pass
        return await self.job(job_id)
