"""The calling key's webhook signing secret (README, "Webhooks").

``GET /v1/webhook-secret`` reads it; ``POST /v1/webhook-secret`` replaces it with a new one,
while the previous one keeps signing beside it for ``ETHOS_WEBHOOKS__ROTATION_GRACE_S``. Each
API key has its own, so one tenant can neither read nor forge another's callbacks. An open
gateway (no keys) signs with the operator's ``ETHOS_WEBHOOKS__SECRET`` and shows it to nobody.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from gateway.auth import Caller, caller
from gateway.context import Context, ctx
from gateway.errors import ERROR_RESPONSES, ApiError
from shared.keys import WebhookSecret
from shared.schemas import WebhookSecretView

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=ERROR_RESPONSES)


def _key_id(who: Caller) -> str:
    if who.key_id is None:
        raise ApiError(404, "no_webhook_secret", "this gateway runs without API keys: its callbacks are "
                       "signed with the operator's ETHOS_WEBHOOKS__SECRET, which it does not show")
    return who.key_id


def _view(found: WebhookSecret | None) -> WebhookSecretView:
    if found is None:  # the key was removed between the check and now
        raise ApiError(404, "no_webhook_secret", "this API key no longer exists")
    until = None
    if len(found.signing()) > 1 and found.previous_until is not None:  # the previous one still signs
        until = datetime.fromtimestamp(found.previous_until, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return WebhookSecretView(secret=found.secret, previous_valid_until=until)


@router.get("/webhook-secret", response_model=WebhookSecretView)
async def read_secret(who: Caller = Depends(caller), c: Context = Depends(ctx)) -> WebhookSecretView:
    """The secret that signs this key's callbacks (``whsec_…``, Standard Webhooks)."""
    return _view(await run_in_threadpool(c.keys.webhook_secret, _key_id(who)))


@router.post("/webhook-secret", response_model=WebhookSecretView)
async def rotate_secret(who: Caller = Depends(caller), c: Context = Depends(ctx)) -> WebhookSecretView:
    """Replace this key's webhook secret; the previous one still signs beside it for the grace period."""
    return _view(await run_in_threadpool(c.keys.rotate_webhook_secret, _key_id(who),
                                         c.settings.webhooks.rotation_grace_s))
