"""Webhooks: the callback-URL check and the signature as pure units; signed, retried,
recorded deliveries to a receiver on 127.0.0.1 over the running stack. No test sends
traffic off the machine: internal addresses are only ever refused before any connection."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ethos_testing.procs import Stack, private_stack, wait_for
from shared import webhooks
from shared.settings import WebhookSettings
from tests.conftest import WEBHOOK_SECRET

LOCAL = pytest.mark.parametrize("stack", ["local"], indirect=True)

INTERNAL = ["http://127.0.0.1/x", "http://127.8.9.10/", "http://[::1]/", "http://10.1.2.3/",
            "http://172.16.0.9/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/", "http://[fc00::5]/", "http://224.0.0.1/", "http://0.0.0.0/",
            "http://100.64.0.1/", "http://240.0.0.1/", "http://[::ffff:10.0.0.1]/",
            "http://localhost:8000/", "http://198.18.0.1/"]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_refused(url: str) -> None:
    with pytest.raises(webhooks.CallbackRefused, match="non-public"):
        webhooks.check_callback_url(url, [])


@pytest.mark.parametrize("url", ["ftp://example.org/", "http:///nohost", "http://u:p@8.8.8.8/",
                                 "http://8.8.8.8:99999/", "javascript:alert(1)",
                                 "http://no-such-host.invalid/"])
def test_malformed_or_unresolvable_refused(url: str) -> None:
    with pytest.raises(webhooks.CallbackRefused):
        webhooks.check_callback_url(url, [])


def test_public_literal_and_allow_list() -> None:
    webhooks.check_callback_url("https://8.8.8.8/hook", [])  # validated only, never called
    webhooks.check_callback_url("http://127.0.0.1:9/x", ["127.0.0.1/32"])
    webhooks.check_callback_url("http://10.1.2.3/x", ["10.0.0.0/8"])
    webhooks.check_callback_url("http://[::1]/x", ["::1"])
    with pytest.raises(webhooks.CallbackRefused):
        webhooks.check_callback_url("http://10.1.2.3/x", ["127.0.0.1/32", "not-a-net"])


def test_signature_verifies_with_standardwebhooks() -> None:
    body = b'{"id":"job_1","status":"succeeded"}'
    wh = Webhook(WEBHOOK_SECRET)
    now = int(time.time())
    fresh = webhooks.headers(WEBHOOK_SECRET, "msg_1", now, body)
    assert wh.verify(body, fresh) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        wh.verify(body + b" ", fresh)
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, fresh)
    assert "webhook-signature" not in webhooks.headers(None, "m", now, body)


@pytest.mark.parametrize("secret", ["nope", "whsec_***", "whsec_c2hvcnQ="])
def test_bad_secret_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        WebhookSettings(secret=secret)  # type: ignore[arg-type]


class _Flaky(BaseHTTPRequestHandler):
    """Answers 500 twice, then 200; keeps every request."""

    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        _Flaky.calls.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        self.send_response(500 if len(_Flaky.calls) <= 2 else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@LOCAL
def test_flaky_receiver_gets_signed_retries(stack: Stack, jfk: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        r = stack.submit(jfk, data={"callback_url": url})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        stack.wait_job(job_id)
        with stack.client() as c:
            job = wait_for(lambda: (j := c.get(f"/v1/jobs/{job_id}").json())["deliveries"][-1:]
                           and j["deliveries"][-1]["ok"] and j, 60, 0.2, what="a delivered callback")
    finally:
        server.shutdown()
    assert len(_Flaky.calls) == 3
    ids = {call["headers"]["webhook-id"] for call in _Flaky.calls}
    assert len(ids) == 1  # one message, retried
    wh = Webhook(WEBHOOK_SECRET)
    for call in _Flaky.calls:
        payload = wh.verify(call["body"], call["headers"])
        assert payload["id"] == job_id and payload["status"] == "succeeded"
    d = job["deliveries"]
    assert [x["attempt"] for x in d] == [1, 2, 3]
    assert [x["status_code"] for x in d] == [500, 500, 200] and [x["ok"] for x in d] == [False, False, True]
    assert [x["will_retry"] for x in d] == [True, True, False] and d[0]["error"] == "HTTP 500"


@LOCAL
def test_internal_callback_url_is_400(stack: Stack, jfk: Path) -> None:
    for url in ("http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://[::1]/hook",
                "ftp://x"):
        r = stack.submit(jfk, data={"callback_url": url})
        assert r.status_code == 400, (url, r.text)
        assert r.json()["error"]["code"] == "invalid_callback_url"


class _FailOnce(BaseHTTPRequestHandler):
    calls: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["content-length"]))
        _FailOnce.calls.append(self.headers["webhook-id"])
        self.send_response(503 if len(_FailOnce.calls) == 1 else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_delivery_survives_worker_restart(tmp_path: Path, silent_wav: Path) -> None:
    """The retry waits in the broker across a webhooks-worker restart and is delivered by the next."""
    server = HTTPServer(("127.0.0.1", 0), _FailOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"ETHOS_STT__ENGINE": "fasterwhisper", "ETHOS_WEBHOOKS__ALLOW": '["127.0.0.1/32"]',
           "ETHOS_WEBHOOKS__SECRET": WEBHOOK_SECRET, "ETHOS_WEBHOOKS__BACKOFF_BASE_S": "4"}
    try:
        with private_stack(tmp_path, appendonly=False, **env) as st:
            st.worker("cpu", 1, name="cpu")
            hooks = st.worker("webhooks", 1, name="webhooks-a")
            st.worker("stt", 1)
            st.gateway()
            r = st.submit(silent_wav, data={"callback_url": f"http://127.0.0.1:{server.server_port}/h"})
            job_id = r.json()["id"]
            with st.client() as c:
                wait_for(lambda: c.get(f"/v1/jobs/{job_id}").json()["deliveries"], 60, 0.1,
                         what="the first attempt")
                st.stop(hooks)  # warm shutdown while the retry is scheduled
                assert len(_FailOnce.calls) == 1
                st.worker("webhooks", 1, name="webhooks-b")
                d = wait_for(lambda: (x := c.get(f"/v1/jobs/{job_id}").json()["deliveries"])[-1]["ok"] and x,
                             60, 0.2, what="the retried delivery")
    finally:
        server.shutdown()
    assert [x["status_code"] for x in d] == [503, 204] and len(set(_FailOnce.calls)) == 1


def test_https_delivery_checks_the_certificate_against_the_host_name(tmp_path: Path) -> None:
    """The delivery connects to the address the URL check approved (127.0.0.1) but verifies
    the receiver's certificate against the URL's host name, sent as SNI: a certificate for
    ``localhost`` (no IP in it) from the CA in ``ETHOS_WEBHOOKS__CA_BUNDLE`` is accepted; one
    for another name, or one from a CA not trusted, is refused before anything is sent."""
    from ethos_testing.hooks import Receiver, make_certs
    from workers.webhooks import post

    good = make_certs(tmp_path, ["localhost"], "good")
    other = make_certs(tmp_path, ["hooks.other.test"], "other")
    s = WebhookSettings(allow=["127.0.0.1/32"], timeout_s=5, ca_bundle=good.ca)
    ok, wrong_name = Receiver(good), Receiver(other)
    try:
        assert post(ok.url("localhost"), "msg_1", b"{}", s, [WEBHOOK_SECRET]) == (204, None)
        assert ok.sni == ["localhost"] and ok.calls[0]["headers"]["host"] == f"localhost:{ok.port}"
        Webhook(WEBHOOK_SECRET).verify(ok.calls[0]["body"], ok.calls[0]["headers"])
        # the same certificate does not cover the address itself: no IP-literal shortcut
        code, error = post(ok.url("127.0.0.1"), "msg_2", b"{}", s)
        assert code is None and "CERTIFICATE_VERIFY_FAILED" in str(error), error
        # a certificate for another name, signed by a trusted CA (that CA trusted here)
        code, error = post(wrong_name.url("localhost"), "msg_3", b"{}", s.model_copy(update={"ca_bundle": other.ca}))
        assert code is None and "CERTIFICATE_VERIFY_FAILED" in str(error) and "localhost" in str(error), error
        # the system's CAs (no bundle) do not know the test CA
        code, error = post(ok.url("localhost"), "msg_4", b"{}", s.model_copy(update={"ca_bundle": None}))
        assert code is None and "CERTIFICATE_VERIFY_FAILED" in str(error), error
    finally:
        ok.close()
        wrong_name.close()
    assert len(ok.calls) == 1 and not wrong_name.calls
