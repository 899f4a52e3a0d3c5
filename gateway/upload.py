"""Streaming multipart upload straight into object storage.

The body is parsed as it arrives; the file part goes to a storage writer in bounded
chunks, so memory stays flat whatever the file's size, and an upload over the limit is
refused with 413 as soon as it passes it (at once when Content-Length already says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from gateway.errors import ApiError
from gateway.sniff import display_name, looks_like_text, sniff
from shared.storage import Storage, Writer

SNIFF_BYTES = 8192
MAX_FIELD_BYTES = 4096
FORM_OVERHEAD = 64 * 1024


@dataclass
class Upload:
    filename: str
    size: int
    sniffed: str | None
    key: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    headers: dict[str, bytes] = field(default_factory=dict)


class _Receiver:
    """Collects parser callbacks as events, handled in order after each write."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self._hname = b""
        self._hval = b""
        self._headers: dict[str, bytes] = {}

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: setattr(self, "_hname", self._hname + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "_hval", self._hval + d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": lambda d, s, e: self.events.append(("data", bytes(d[s:e]))),
            "on_part_end": lambda: self.events.append(("end", None)),
        }

    def _begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = self._hval
        self._hname = self._hval = b""

    def _headers_done(self) -> None:
        _, opts = parse_options_header(self._headers.get("content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        fname = opts.get(b"filename")
        self.events.append(
            ("begin", _Part(name, fname.decode("utf-8", "replace") if fname is not None else None, self._headers))
        )


async def receive_upload(
    request: Request,
    *,
    file_field: str,
    storage: Storage,
    key_for: Callable[[str], str],
    max_bytes: int,
    chunk_bytes: int,
) -> Upload:
    """Stream the ``file_field`` part of a multipart body into storage under ``key_for(name)``."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise ApiError(400, "invalid_request", f"send multipart/form-data with the media in field {file_field!r}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD:
        raise ApiError(413, "too_large", f"the upload is {int(declared)} bytes, over the limit of {max_bytes} bytes")

    rx = _Receiver()
    parser = MultipartParser(params[b"boundary"], rx.callbacks())  # type: ignore[arg-type]
    fields: dict[str, str] = {}
    cur: _Part | None = None
    in_file = done_file = False
    filename = ""
    head = bytearray()
    buf = bytearray()
    sniffed: str | None = None
    writer: Writer | None = None
    key = ""
    size = 0
    small = bytearray()

    async def open_and_write(first: bytes) -> None:
        nonlocal writer, sniffed
        sniffed = sniff(first)
        if sniffed is None and looks_like_text(first):
            raise ApiError(415, "unsupported_media", f"{filename!r} is text, not audio or video")
        writer = await run_in_threadpool(storage.open_writer, key, sniffed or "application/octet-stream")
        if first:
            await run_in_threadpool(writer.write, first)

    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            parser.write(chunk)
            for kind, payload in rx.events:
                if kind == "begin":
                    cur = payload  # type: ignore[assignment]
                    assert cur is not None
                    in_file = cur.name == file_field and not done_file
                    small.clear()
                    if in_file:
                        filename = display_name(cur.filename)
                        key = key_for(filename)
                elif kind == "data" and cur is not None:
                    data: bytes = payload  # type: ignore[assignment]
                    if in_file:
                        size += len(data)
                        if size > max_bytes:
                            raise ApiError(413, "too_large", f"the upload is over the limit of {max_bytes} bytes")
                        if writer is None:
                            head += data
                            if len(head) >= SNIFF_BYTES:
                                await open_and_write(bytes(head))
                                head.clear()
                        else:
                            buf += data
                            if len(buf) >= chunk_bytes:
                                await run_in_threadpool(writer.write, bytes(buf))
                                buf.clear()
                    elif cur.filename is None:
                        small += data
                        if len(small) > MAX_FIELD_BYTES:
                            raise ApiError(400, "invalid_request", f"form field {cur.name!r} is too long")
                elif kind == "end" and cur is not None:
                    if in_file:
                        if size == 0:
                            raise ApiError(400, "empty_file", f"field {file_field!r} holds an empty file")
                        if writer is None:
                            await open_and_write(bytes(head))
                            head.clear()
                        elif buf:
                            await run_in_threadpool(writer.write, bytes(buf))
                            buf.clear()
                        in_file, done_file = False, True
                    elif cur.filename is None and cur.name:
                        fields[cur.name] = small.decode("utf-8", "replace").strip()
                    cur = None
            rx.events.clear()
        parser.finalize()
        if not done_file:
            raise ApiError(400, "missing_file", f"no file in form field {file_field!r}")
        assert writer is not None
        await run_in_threadpool(writer.commit)
    except BaseException:
        if writer is not None:
            await run_in_threadpool(writer.abort)
        raise
    return Upload(filename=filename, size=size, sniffed=sniffed, key=key, fields=fields)
