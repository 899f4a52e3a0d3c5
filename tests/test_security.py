"""API keys, per-key isolation, limits and CORS, over real processes (Redis, Celery workers,
the gateway, the ``ethos-admin`` command)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets

from ethos_testing.procs import ROOT, Stack, free_port, private_stack, wait_for

ALLOWED_ORIGIN = "http://studio.example"


def admin(st: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gateway.admin`` (the ``ethos-admin`` command) against the stack."""
    import os

    return subprocess.run([sys.executable, "-m", "gateway.admin", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, **st.env}, timeout=60)


def new_key(st: Stack, name: str) -> str:
    out = admin(st, "--json", "keys", "create", "--name", name)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["key"]  # type: ignore[no-any-return]


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def extra_gateway(st: Stack, **env: str) -> str:
    """Another gateway on the same Redis and storage with other settings; its URL."""
    port = free_port()
    st.spawn(f"gateway-{port}", [sys.executable, "-m", "gateway"],
             {"ETHOS_GATEWAY__PORT": str(port), **env})
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(url + "/healthz", timeout=1).status_code == 200, 30, what="gateway")
    return url


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Auth required, a cpu and an stt worker (faster-whisper), the gateway."""
    with private_stack(tmp_path_factory.mktemp("secure"), ETHOS_AUTH__REQUIRED="true",
                       ETHOS_STT__ENGINE="fasterwhisper") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.gateway()
        yield st


def test_keys_are_required_and_stored_hashed(secure: Stack, silent_wav: Path) -> None:
    key = new_key(secure, "alice")
    key_id = key.split("_")[1]
    with httpx.Client(base_url=secure.url, timeout=30) as c:
        for method, path in [("GET", "/v1/jobs"), ("GET", "/v1/jobs/job_x"), ("GET", "/v1/tags"),
                             ("GET", "/api/job/job_x"), ("POST", "/v1/jobs"), ("POST", "/transcribe")]:
            r = c.request(method, path)
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["error"]["code"] == "unauthorized"
        assert c.get("/v1/jobs", headers=h(key + "x")).status_code == 401
        assert c.get("/v1/jobs", headers={"Authorization": key}).status_code == 401  # no scheme
        assert c.get("/v1/jobs", headers=h(key)).status_code == 200
        # what stays open: liveness, readiness (which says auth is required), the Studio page
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").json()["auth"] == "required"
        assert c.get("/").status_code == 200
        # an upload without a key is refused before its body is stored
        with open(silent_wav, "rb") as fh:
            assert c.post("/v1/jobs", files={"file": fh}).status_code == 401

    listed = json.loads(admin(secure, "--json", "keys", "list").stdout)
    assert [k["id"] for k in listed if k["name"] == "alice"] == [key_id]
    dump = json.dumps({k: secure_redis(secure).hgetall(k) for k in secure_redis(secure).keys("*apikey:*")
                       if secure_redis(secure).type(k) == "hash"})
    assert key not in dump and key.split("_", 2)[2] not in dump  # only the hash is kept

    assert admin(secure, "keys", "revoke", key_id).returncode == 0
    assert httpx.get(secure.url + "/v1/jobs", headers=h(key)).status_code == 401
    assert admin(secure, "keys", "revoke", "00000000").returncode == 1


def secure_redis(st: Stack) -> Any:
    return redis.Redis.from_url(st.env["ETHOS_REDIS__URL"], decode_responses=True)


def _ws(url: str, job_id: str, subprotocols: list[str]) -> tuple[list[dict[str, Any]], int | None]:
    """The events a websocket client gets, and the close code."""
    async def go() -> tuple[list[dict[str, Any]], int | None]:
        out = []
        async with websockets.connect(f"{url.replace('http', 'ws')}/v1/jobs/{job_id}/events",
                                      subprotocols=subprotocols or None) as ws:  # type: ignore[arg-type]
            assert ws.subprotocol == "ethos"
            try:
                async for msg in ws:
                    out.append(json.loads(msg))
            except websockets.exceptions.ConnectionClosedError:
                pass
            return out, ws.close_code
    return asyncio.run(go())


def test_every_key_sees_only_its_own_jobs(secure: Stack, jfk: Path) -> None:
    alice, bob = new_key(secure, "alice2"), new_key(secure, "bob")
    with httpx.Client(base_url=secure.url, timeout=60) as c:
        with open(jfk, "rb") as fh:
            r = c.post("/v1/jobs", files={"file": ("secret-meeting.flac", fh)}, headers=h(alice))
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        with open(jfk, "rb") as fh:
            compat = c.post("/api/transcribe-diarize", files={"audio": fh}, headers=h(alice)).json()["job_id"]
        wait_for(lambda: c.get(f"/v1/jobs/{job_id}", headers=h(alice)).json()["status"] == "succeeded",
                 180, 0.5, what="alice's job")

        for jid in (job_id, compat):
            for path in ["", "/result", "/media", "/events", "/result?format=srt"]:
                r = c.get(f"/v1/jobs/{jid}{path}", headers=h(bob))
                assert r.status_code == 404, (path, r.text)
                assert r.json()["error"]["code"] == "not_found"
            assert c.get(f"/api/job/{jid}", headers=h(bob)).status_code == 404
            assert c.delete(f"/v1/jobs/{jid}", headers=h(bob)).status_code == 404
        assert c.get("/v1/jobs", headers=h(bob)).json()["jobs"] == []
        mine = {j["id"] for j in c.get("/v1/jobs", headers=h(alice)).json()["jobs"]}
        assert mine == {job_id, compat}
        assert c.get(f"/v1/jobs/{job_id}/result", headers=h(alice)).json()["text"]
        assert c.get(f"/v1/jobs/{job_id}/media", headers=h(alice)).content == jfk.read_bytes()
        assert c.get(f"/api/job/{job_id}", headers=h(alice)).json()["status"] == "done"

    # the websocket takes the key as a subprotocol before it accepts
    events, code = _ws(secure.url, job_id, ["ethos", f"ethos.key.{alice}"])
    assert events[-1]["type"] == "done" and code == 1000
    other, code = _ws(secure.url, job_id, ["ethos", f"ethos.key.{bob}"])
    assert other == [{"type": "error", "job_id": job_id, "code": "not_found", "message": f"no job {job_id!r}"}]
    assert code == 4404
    for protocols in ([], ["ethos"], ["ethos", "ethos.key.ek_00000000_" + "A" * 43]):
        with pytest.raises(websockets.exceptions.InvalidStatus) as e:
            _ws(secure.url, job_id, protocols)
        assert e.value.response.status_code == 403


def test_limits_per_key_and_cors(secure: Stack, silent_wav: Path) -> None:
    """A gateway with tight limits on the same stack: 2 unfinished jobs, 20 requests a minute.

    Its jobs go to a queue no worker reads (another key prefix), so they stay unfinished."""
    url = extra_gateway(secure, ETHOS_AUTH__MAX_ACTIVE_JOBS="2", ETHOS_AUTH__REQUESTS_PER_MINUTE="20",
                        ETHOS_REDIS__URL=secure.env["ETHOS_REDIS__URL"].rsplit("/", 1)[0] + "/3",
                        ETHOS_AUTH__CORS_ORIGINS=json.dumps([ALLOWED_ORIGIN]))
    env = {**secure.env, "ETHOS_REDIS__URL": secure.env["ETHOS_REDIS__URL"].rsplit("/", 1)[0] + "/3"}
    limited = Stack(env=env, logs=secure.logs)
    carol, dave = new_key(limited, "carol"), new_key(limited, "dave")
    with httpx.Client(base_url=url, timeout=30) as c:
        codes = []
        for _ in range(3):
            with open(silent_wav, "rb") as fh:
                r = c.post("/v1/jobs", files={"file": fh}, headers=h(carol))
            codes.append(r.status_code)
        assert codes == [202, 202, 429]
        assert r.json()["error"]["code"] == "too_many_jobs" and int(r.headers["retry-after"]) > 0
        with open(silent_wav, "rb") as fh:  # another key is not held back by carol's jobs
            assert c.post("/v1/jobs", files={"file": fh}, headers=h(dave)).status_code == 202
        # deleting (canceling) one frees a slot
        first = c.get("/v1/jobs", headers=h(carol)).json()["jobs"][-1]["id"]
        assert c.delete(f"/v1/jobs/{first}", headers=h(carol)).status_code == 200
        with open(silent_wav, "rb") as fh:
            assert c.post("/v1/jobs", files={"file": fh}, headers=h(carol)).status_code == 202

        statuses = [c.get("/v1/limits", headers=h(dave)).status_code for _ in range(25)]
        assert 429 in statuses and statuses.index(429) <= 19
        limited_r = c.get("/v1/limits", headers=h(dave))
        assert limited_r.status_code == 429 and limited_r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited_r.headers["retry-after"]) <= 60
        assert c.get("/v1/limits", headers=h(carol)).status_code == 200  # per key

        # CORS: the allowed origin gets its headers, another origin none
        pre = c.options("/v1/jobs", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "authorization"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        bad = c.options("/v1/jobs", headers={"Origin": "http://evil.example",
                                             "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in bad.headers
    # the default: no cross-origin access at all
    r = httpx.get(secure.url + "/healthz", headers={"Origin": ALLOWED_ORIGIN})
    assert "access-control-allow-origin" not in r.headers


def test_the_clients_send_the_key(secure: Stack, silent_wav: Path) -> None:
    """``ethos_client`` (HTTP and its websocket's Authorization header) and the evaluation
    harness's client, with ``api_key`` or ETHOS_API_KEY."""
    from ethos_client.client import EthosClient, EthosError
    from evaluation.client import EthosClient as EvalClient

    key = new_key(secure, "clients")
    with EthosClient(secure.url, api_key=key) as c:
        job_id = c.submit(silent_wav)["id"]
        events = list(c.events(job_id))
        assert events[-1]["type"] == "done"
        assert [j["id"] for j in c.jobs()] == [job_id]
    with EthosClient(secure.url, api_key="") as anonymous, pytest.raises(EthosError) as e:
        anonymous.jobs()
    assert e.value.status == 401
    result, view = EvalClient(secure.url, timeout_s=120, api_key=key).transcribe(silent_wav, "en")
    assert view.status == "succeeded" and result.segments == []
