"""Liveness and readiness answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    # "required": every job endpoint needs an API key; "open": anyone who reaches it may call.
    auth: Literal["required", "open"] = "open"
    dependencies: dict[str, dict[str, Any]]
