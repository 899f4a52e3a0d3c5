"""Errors mapped to ``{"error": {"code", "message"}}`` with the right status code."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.schemas import ErrorBody
from shared.storage import ObjectNotFound, StorageUnavailable

log = logging.getLogger("ethos.gateway")


class ApiError(Exception):
    """An error the client should see as it is."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers


# The error responses every route may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": what}
    for status, what in [(400, "Bad request"), (401, "No valid API key"), (404, "No such job"),
                         (409, "Not ready"), (410, "Deleted"), (413, "Too large"),
                         (415, "Not media"), (429, "Too many requests or unfinished jobs"),
                         (503, "Redis or storage unavailable")]
}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON errors."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(error_body(e.code, e.message), status_code=e.status, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        msg = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse(error_body("invalid_request", msg), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            error_body(codes.get(e.status_code, "http_error"), str(e.detail)), status_code=e.status_code
        )

    @app.exception_handler(redis.RedisError)
    async def _redis(_: Request, e: redis.RedisError) -> JSONResponse:
        log.warning("Redis unavailable: %s", e)
        return JSONResponse(
            error_body("redis_unavailable", "the job store (Redis) is unavailable; try again shortly"),
            status_code=503,
        )

    @app.exception_handler(StorageUnavailable)
    async def _storage(_: Request, e: StorageUnavailable) -> JSONResponse:
        log.warning("storage unavailable: %s", e)
        return JSONResponse(
            error_body("storage_unavailable", "object storage is unavailable; try again shortly"),
            status_code=503,
        )

    @app.exception_handler(ObjectNotFound)
    async def _missing(_: Request, e: ObjectNotFound) -> JSONResponse:
        return JSONResponse(error_body("gone", "that object is no longer stored"), status_code=410)

    @app.exception_handler(Exception)
    async def _unknown(_: Request, e: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.error("unhandled error %s", error_id, exc_info=(type(e), e, e.__traceback__))
        return JSONResponse(
            error_body("internal_error", f"internal error (error id {error_id})"), status_code=500
        )
