"""Redis or storage down: a clear 503 at the gateway, and accepted jobs are not lost."""

from __future__ import annotations

from pathlib import Path

import httpx

from ethos_testing.procs import RedisServer, Stack, free_port, private_stack


def test_redis_down_then_back(tmp_path: Path, silent_wav: Path) -> None:
    with private_stack(tmp_path, appendonly=True, ETHOS_REDIS__SOCKET_TIMEOUT_S="2",
                       ETHOS_STT__ENGINE="fasterwhisper") as st:
        redis = st.redis
        assert redis is not None
        st.gateway()
        accepted = st.submit(silent_wav)
        assert accepted.status_code == 202
        job_id = accepted.json()["id"]

        redis.stop()
        r = st.submit(silent_wav)
        assert r.status_code == 503 and r.json()["error"]["code"] == "redis_unavailable"
        assert "Redis" in r.json()["error"]["message"]
        with st.client() as c:
            assert c.get(f"/v1/jobs/{job_id}").status_code == 503
            ready = c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["dependencies"]["redis"]["state"] == "down"

        redis.start()  # same port, same append-only file
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        job = st.wait_job(job_id, timeout=60)
        assert job["status"] == "succeeded"


def test_storage_down_is_503(tmp_path: Path, redis_server: RedisServer, silent_wav: Path) -> None:
    env = {
        "ETHOS_REDIS__URL": redis_server.url,
        "ETHOS_REDIS__KEY_PREFIX": "s3down",
        "ETHOS_STORAGE__BACKEND": "s3",
        "ETHOS_STORAGE__S3_ENDPOINT": f"127.0.0.1:{free_port()}",
    }
    st = Stack(env=env, logs=tmp_path / "logs")
    try:
        st.gateway()
        r = st.submit(silent_wav)
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "storage_unavailable"
        with st.client() as c:
            assert c.get("/v1/jobs").json()["jobs"] == []  # nothing half-made was kept
            ready = c.get("/readyz").json()
            assert ready["dependencies"]["storage"]["state"] == "down"
            assert httpx.get(st.url + "/healthz").status_code == 200
    finally:
        st.close()
