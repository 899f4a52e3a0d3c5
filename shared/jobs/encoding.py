"""How a job record and its events are written in Redis: the job hash's fields, the stream's
entries."""

from __future__ import annotations

import json
from typing import Any

from shared.schemas.record import JobRecord

# JobRecord fields stored as JSON in the hash; the others are plain strings.
JSON_FIELDS = {"media", "error", "parts", "chunks", "speaker_names"}


def to_fields(rec: JobRecord) -> dict[str, str]:
    d = rec.model_dump(mode="json")
    out: dict[str, str] = {}
    for k, v in d.items():
        if v is None:
            continue
        if k in JSON_FIELDS:
            out[k] = json.dumps(v)
        elif isinstance(v, bool):
            out[k] = "1" if v else "0"
        else:
            out[k] = str(v)
    return out


def from_fields(f: dict[str, str]) -> JobRecord:
    return JobRecord.model_validate(
        {k: json.loads(v) if k in JSON_FIELDS else v for k, v in f.items() if k in JobRecord.model_fields}
    )


def decode_events(rows: Any) -> list[tuple[str, dict[str, Any]]]:
    """Stream entries as ``(id, event)`` pairs."""
    return [(eid, json.loads(fields["e"])) for eid, fields in rows or []]
