"""Deliver a finished job's callback: signed (Standard Webhooks), retried with exponential
backoff for a bounded time, every attempt recorded on the job.

The task runs on its own ``webhooks`` queue with late acks (shared.celery_app), so a slow
receiver never holds a cpu process, and a delivery whose worker dies is redelivered to the
next worker; retries are new messages with a countdown, so they survive a restart too.

One attempt has a total deadline (``ETHOS_WEBHOOKS__TIMEOUT_S``: connect, send and the
response head together; a receiver trickling a byte every few seconds is cut off there), its
response body is never read (only the status counts), and it connects to an address the URL
check just approved, never resolving the host name a second time; over https the receiver's
certificate is still checked against the URL's host name (sent as SNI), not the address.

A job owned by an API key is signed with that key's own secret (shared.keys); one without an
owner (an open gateway) with ``ETHOS_WEBHOOKS__SECRET``, if set.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
from celery import Task, current_app, shared_task

from shared import webhooks
from shared.celery_app import TASK_WEBHOOK
from shared.jobs import utcnow
from shared.schemas import JobView, WebhookDelivery
from shared.settings import WebhookSettings
from workers import handles

log = logging.getLogger("ethos.worker.webhooks")


def enqueue(job_id: str) -> None:
    """Queue the callback of a finished job, if it has one (the body is fixed now)."""
    rec = handles.jobs().get(job_id)
    if rec is None or not rec.callback_url:
        return
    body = JobView.of(rec).model_dump_json(exclude={"deliveries"})
    current_app.send_task(TASK_WEBHOOK, args=[job_id, rec.callback_url, body, f"msg_{uuid.uuid4().hex}",
                                              time.time(), 1, rec.owner], queue="webhooks")


def signing_secrets(owner: str | None, s: WebhookSettings) -> list[str]:
    """The secrets that sign a delivery of ``owner``'s job: the key's own (and its previous one
    during a rotation's grace period); the server's for a job no key owns."""
    if owner:
        found = handles.keys().webhook_secret(owner)
        if found is not None:
            return found.signing()
    return [s.secret.get_secret_value()] if s.secret else []


async def _send(url: str, ip: webhooks.IPAddress, body: bytes, hdrs: dict[str, str],
                timeout_s: float, verify: ssl.SSLContext | bool = True) -> int:
    """POST to ``url`` through the address ``ip`` (Host and TLS name stay the URL's: the
    certificate must be valid for the host name); the status code, with the response body
    left unread."""
    parts = urlsplit(url)
    addr = f"[{ip}]" if ip.version == 6 else str(ip)
    target = parts._replace(netloc=f"{addr}:{parts.port}" if parts.port else addr).geturl()
    ext = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, trust_env=False,
                                 verify=verify) as client:
        req = client.build_request("POST", target, content=body, headers={**hdrs, "host": parts.netloc},
                                   extensions=ext)
        r = await client.send(req, stream=True)
        await r.aclose()
        return r.status_code


def post(url: str, msg_id: str, body: bytes, s: WebhookSettings,
         secrets: list[str] | None = None) -> tuple[int | None, str | None]:
    """One attempt → (status code, error); the URL is checked again right before it and the
    connection goes to the address that passed the check, within ``s.timeout_s`` in all.
    Signed with ``secrets`` (None: the server's secret, if set)."""
    try:
        ips = webhooks.check_callback_url(url, s.allow)
    except webhooks.CallbackRefused as e:
        return None, f"refused: {e}"
    if secrets is None:
        secrets = [s.secret.get_secret_value()] if s.secret else []
    hdrs = webhooks.headers(secrets, msg_id, int(time.time()), body)
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(s.ca_bundle)) if s.ca_bundle else True
    try:
        code = asyncio.run(asyncio.wait_for(_send(url, ips[0], body, hdrs, s.timeout_s, verify), s.timeout_s))
    except TimeoutError:
        return None, f"no answer within {s.timeout_s:g} s"
    except httpx.HTTPError as e:
        return None, f"{type(e).__name__}: {e}"
    return code, None if 200 <= code < 300 else f"HTTP {code}"


@shared_task(name=TASK_WEBHOOK, bind=True, acks_late=True, max_retries=None)
def deliver(self: Task, job_id: str, url: str, body: str, msg_id: str, first_at: float,
            attempt: int, owner: str | None = None) -> bool:
    """POST ``body`` to ``url``, signed for the job's ``owner`` (its API key id); on failure
    retry after base·2^(n-1) s (capped) while inside the retry window. Returns whether the
    receiver took it."""
    s = handles.settings().webhooks
    t0 = time.perf_counter()
    code, error = post(url, msg_id, body.encode(), s, signing_secrets(owner, s))
    delay = min(s.backoff_base_s * 2 ** (attempt - 1), s.backoff_max_s)
    retry = error is not None and not error.startswith("refused") and (
        time.time() + delay - first_at <= s.retry_for_s)
    handles.jobs().record_delivery(job_id, WebhookDelivery(
        webhook_id=msg_id, attempt=attempt, at=utcnow(), ok=error is None, status_code=code,
        error=error, seconds=round(time.perf_counter() - t0, 4), will_retry=retry))
    if error is None:
        return True
    log.warning("webhook %s for job %s, attempt %d: %s%s", msg_id, job_id, attempt, error,
                f"; again in {delay:g} s" if retry else "; giving up")
    if retry:
        args: list[Any] = [job_id, url, body, msg_id, first_at, attempt + 1, owner]
        raise self.retry(args=args, countdown=delay)
    return False
