"""What one tenant keeps to itself (issue 23, the rest): its own webhook signing secret, and a
storage quota that another tenant's uploads cannot eat. Real gateway, workers and Redis;
receivers on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ethos_testing.hooks import Receiver, make_certs
from ethos_testing.procs import ROOT, Stack, private_stack, wait_for
from shared.jobs import JobStore, new_job_id
from tests.conftest import WEBHOOK_SECRET
from tests.test_security import h, new_key

QUOTA = 300_000


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_certs(tmp_path_factory.mktemp("certs"), ["localhost"])


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory, certs: Any) -> Iterator[Stack]:
    """Keys required, a server-wide webhook secret too (which must sign no key's callbacks), a
    small storage quota, https receivers trusted through a CA bundle; a cpu and a webhooks
    worker (no stt: a job of random bytes fails at prepare, which calls back)."""
    with private_stack(tmp_path_factory.mktemp("tenants"), ETHOS_AUTH__REQUIRED="true",
                       ETHOS_AUTH__MAX_ACTIVE_JOBS="0", ETHOS_AUTH__MAX_STORED_BYTES=str(QUOTA),
                       ETHOS_WEBHOOKS__ALLOW='["127.0.0.1/32"]', ETHOS_WEBHOOKS__SECRET=WEBHOOK_SECRET,
                       ETHOS_WEBHOOKS__CA_BUNDLE=str(certs.ca), ETHOS_WEBHOOKS__RETRY_FOR_S="1") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("webhooks", 1, name="webhooks")
        st.gateway()
        yield st


def upload(st: Stack, key: str, data: bytes, **fields: str) -> httpx.Response:
    with httpx.Client(base_url=st.url, timeout=60) as c:
        return c.post("/v1/jobs", files={"file": ("x.bin", data)}, data=fields, headers=h(key))


def stored_inputs(st: Stack) -> set[str]:
    """The job ids with an uploaded object in the stack's storage folder."""
    root = Path(st.env["ETHOS_STORAGE__LOCAL_ROOT"]) / "jobs"
    return {p.parent.name for p in root.glob("*/input*")} if root.exists() else set()


def test_each_key_signs_its_callbacks_with_its_own_secret(tenants: Stack, certs: Any) -> None:
    """Two keys' callbacks (over https to ``localhost``, delivered by the real webhooks worker)
    verify only with their own key's secret, never with the other's or the server's; a
    rotation signs with the new and, for the grace period, the old secret."""
    alice, bob = new_key(tenants, "alice"), new_key(tenants, "bob")
    with httpx.Client(base_url=tenants.url, timeout=30) as c:
        assert c.get("/v1/webhook-secret").status_code == 401
        sa = c.get("/v1/webhook-secret", headers=h(alice)).json()
        sb = c.get("/v1/webhook-secret", headers=h(bob)).json()
    assert sa["secret"].startswith("whsec_") and sa["secret"] != sb["secret"] != WEBHOOK_SECRET
    assert sa["previous_valid_until"] is None
    hook = Receiver(certs)
    try:
        ids = {who: upload(tenants, key, os.urandom(20_000), callback_url=hook.url("localhost")).json()["id"]
               for who, key in (("alice", alice), ("bob", bob))}
        wait_for(lambda: len(hook.calls) >= 2, 60, 0.2, what="both callbacks")
        got = set()
        for call in hook.calls:
            mine, theirs = (sa, sb) if ids["alice"].encode() in call["body"] else (sb, sa)
            got.add(Webhook(mine["secret"]).verify(call["body"], call["headers"])["id"])
            for other in (theirs["secret"], WEBHOOK_SECRET):
                with pytest.raises(WebhookVerificationError):
                    Webhook(other).verify(call["body"], call["headers"])
        assert got == set(ids.values())
        # alice rotates: her next callback carries both signatures while the old one is in grace
        with httpx.Client(base_url=tenants.url, timeout=30) as c:
            new = c.post("/v1/webhook-secret", headers=h(alice)).json()
            assert c.get("/v1/webhook-secret", headers=h(alice)).json() == new
            assert c.get("/v1/webhook-secret", headers=h(bob)).json() == sb  # bob's is untouched
        assert new["secret"] not in (sa["secret"], sb["secret"]) and new["previous_valid_until"]
        cli = subprocess.run([sys.executable, "-m", "ethos_client.cli", "--url", tenants.url, "webhook-secret"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "ETHOS_API_KEY": bob})
        assert cli.returncode == 0 and cli.stdout.strip() == sb["secret"], cli.stderr
        third = upload(tenants, alice, os.urandom(20_000), callback_url=hook.url("localhost")).json()["id"]
        wait_for(lambda: len(hook.calls) >= 3, 60, 0.2, what="the callback after the rotation")
    finally:
        hook.close()
    last = hook.calls[2]
    assert third.encode() in last["body"] and len(last["headers"]["webhook-signature"].split()) == 2
    for secret in (new["secret"], sa["secret"]):
        Webhook(secret).verify(last["body"], last["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(sb["secret"]).verify(last["body"], last["headers"])
    assert set(hook.sni) == {"localhost"}


def _chunked_form(data: bytes, boundary: str = "qB0undary") -> tuple[Iterator[bytes], dict[str, str]]:
    """A multipart body sent chunked (no Content-Length), 16 KiB at a time."""
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return (body[i:i + 16384] for i in range(0, len(body), 16384)), {
        "Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_storage_quota_per_key(tenants: Stack) -> None:
    """A key keeps at most ETHOS_AUTH__MAX_STORED_BYTES of uploads (300 kB here): past it an
    upload gets 413 ``storage_quota_exceeded`` — announced, at once; chunked, mid-stream — and
    nothing of it is kept; another key is not affected; deleting a job frees its bytes."""
    carol, dave = new_key(tenants, "carol"), new_key(tenants, "dave")
    first = upload(tenants, carol, os.urandom(200_000))
    assert first.status_code == 202, first.text
    before = stored_inputs(tenants)
    over = upload(tenants, carol, os.urandom(200_000))
    assert over.status_code == 413 and over.json()["error"]["code"] == "storage_quota_exceeded", over.text
    assert "300000" in over.json()["error"]["message"]
    parts, headers = _chunked_form(os.urandom(200_000))
    with httpx.Client(base_url=tenants.url, timeout=60) as c:
        chunked = c.post("/v1/jobs", content=parts, headers={**headers, **h(carol)})
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "storage_quota_exceeded"
    assert stored_inputs(tenants) == before  # neither refused upload left anything
    assert upload(tenants, dave, os.urandom(200_000)).status_code == 202  # dave has his own quota
    with httpx.Client(base_url=tenants.url, timeout=30) as c:
        assert c.delete(f"/v1/jobs/{first.json()['id']}", headers=h(carol)).status_code == 200
    again = upload(tenants, carol, os.urandom(200_000))
    assert again.status_code == 202, again.text


def test_storage_quota_holds_under_parallel_uploads(tenants: Stack) -> None:
    """Eight uploads of 100 kB at once against 300 kB: exactly three are kept."""
    erin = new_key(tenants, "erin")
    start = threading.Barrier(8)
    codes: list[int] = []

    def one() -> None:
        data = os.urandom(100_000)
        start.wait()
        codes.append(upload(tenants, erin, data).status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [202] * 3 + [413] * 5, codes


def test_dead_uploads_stop_counting(redis_server: Any) -> None:
    """An upload whose gateway died leaves a count with no job; the upkeep sweep releases it
    once it has not grown for a while, and never a recorded job's."""
    store = JobStore(redis.Redis.from_url(redis_server.url, decode_responses=True), prefix=f"q{time.time_ns()}")
    dead, kept = new_job_id(), new_job_id()
    assert store.reserve_bytes("k1", dead, 1000, 5000) == (True, 1000)
    assert store.reserve_bytes("k1", dead, 3000, 5000) == (True, 3000)  # a running total, not a sum
    assert store.reserve_bytes("k1", kept, 2500, 5000) == (False, 3000)
    assert store.reserve_bytes("k1", kept, 2000, 5000) == (True, 5000)
    store.r.zadd(store.keys.index(), {kept: time.time()})  # recorded: in the job index
    assert store.release_stale_bytes() == []  # both fresh
    assert store.release_stale_bytes(now=time.time() + 3600) == [dead]
    assert store.stored_bytes("k1") == 2000
    store.purge(kept)
    assert store.stored_bytes("k1") == 0 and store.release_bytes(kept) == 0  # released once
