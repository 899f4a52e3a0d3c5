"""What the routes share: settings, the job store and its async event reader, the API keys,
storage, Celery."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from fastapi import Request

from shared.jobs import AsyncJobEvents, JobStore
from shared.keys import KeyStore
from shared.settings import Settings
from shared.storage import Storage


@dataclass
class Context:
    settings: Settings
    jobs: JobStore
    events: AsyncJobEvents
    storage: Storage
    celery: Celery
    keys: KeyStore


def ctx(request: Request) -> Context:
    """FastAPI dependency: the app's context."""
    return request.app.state.ctx  # type: ignore[no-any-return]
