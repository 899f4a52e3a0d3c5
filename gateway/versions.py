"""Saving a corrected result as a new version, guarded by its ETag (``If-Match``).

Version 1 is the machine output and is never rewritten. A save writes the new version to a
key of its own, then claims the next version number in Redis only if the latest is still the
one the client read (``JobStore.commit_version``, one Lua script): of two saves made from the
same version one wins, the other gets 412 and its object is removed.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from gateway import service
from gateway.context import Context
from gateway.errors import ApiError
from shared import objects, revisions
from shared.jobs import utcnow
from shared.schemas import JobRecord, Result, ResultCorrection, ResultVersion, ResultVersions

_ETAG = re.compile(r'^"?v(\d{1,9})"?$')


def etag(version: int) -> str:
    """The strong ETag of a result version."""
    return f'"v{version}"'


def parse_if_match(header: str | None) -> int | None:
    """The version an ``If-Match`` names (None for ``*``); 428 without one, 400 if malformed."""
    if header is None or not header.strip():
        raise ApiError(428, "precondition_required",
                       'a correction needs If-Match: the ETag of the version it corrects '
                       '(from GET …/result, e.g. "v1")')
    value = header.strip()
    if value == "*":
        return None
    m = _ETAG.match(value)
    if not m:
        raise ApiError(400, "invalid_request",
                       f"If-Match must be an ETag from GET …/result such as \"v1\", not {value!r}")
    return int(m.group(1))


def stale(rec: JobRecord, latest: int) -> ApiError:
    return ApiError(412, "precondition_failed",
                    f"the result of job {rec.id} changed since it was read: it is now version "
                    f"{latest} (ETag {etag(latest)}); read it again and reapply the edits")


def save(c: Context, rec: JobRecord, if_match: str | None, body: ResultCorrection) -> tuple[dict[str, Any], int]:
    """Store ``body`` as the next version of the result; the new result and its version."""
    service.check_result(rec)
    expected = parse_if_match(if_match)
    latest = c.jobs.result_version(rec.id)
    if expected is not None and expected != latest:
        raise stale(rec, latest)
    cap = c.settings.limits.max_result_versions
    if latest >= cap:
        raise ApiError(409, "too_many_versions", f"job {rec.id} has {latest} result versions, the most "
                       "one job keeps (ETHOS_LIMITS__MAX_RESULT_VERSIONS)")
    base_raw, base_version = service.load_version(c, rec, latest)
    new_version = base_version + 1
    at = utcnow()
    try:
        new = revisions.apply(Result.model_validate(base_raw), body, new_version, at)
    except revisions.InvalidCorrection as e:
        raise ApiError(422, "invalid_correction", str(e)) from e
    key = objects.result_version(rec.id, new_version, secrets.token_hex(4))
    c.storage.put_bytes(key, new.model_dump_json().encode())
    ok, n = c.jobs.commit_version(rec.id, base_version, key, at, len(new.segments))
    if ok != 1:
        c.storage.delete_prefix(key)
        if ok == 0:
            raise stale(rec, n)
        raise ApiError(409, "not_ready", f"job {rec.id} has no result to correct")
    return new.model_dump(mode="json"), n


def versions(c: Context, rec: JobRecord) -> ResultVersions:
    """Every saved version of the job's result, oldest first."""
    service.check_result(rec)
    latest = c.jobs.result_version(rec.id)
    out = []
    for n in range(1, latest + 1):
        info = c.jobs.version_info(rec.id, n) or {}
        segments = info.get("segments")
        if segments is None:  # version 1: count from the object
            segments = len(service.load_version(c, rec, n)[0].get("segments", []))
        out.append(ResultVersion(version=n, saved_at=info.get("saved_at") or "", segments=segments,
                                 etag=etag(n)))
    return ResultVersions(latest=latest, versions=out)
