"""Streaming multipart upload straight into object storage.

The body is parsed as it arrives; the file part goes to a storage writer in bounded
chunks, so memory stays flat whatever the file's size, and an upload over the limit is
refused with 413 as soon as it passes it (at once when Content-Length already says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from gateway.errors import ApiError
from gateway.sniff import display_name, looks_like_text, sniff
from shared.storage import Storage, Writer

SNIFF_BYTES = 8192
MAX_FIELD_BYTES = 4096
FORM_OVERHEAD = 64 * 1024
# What an announced Content-Length is taken to hold besides the file when it is reserved up
# front: a file part's headers and a few small fields. A bigger form over-reserves only until
# the end (then the exact size); a smaller slack keeps parallel uploads from each taking a
# sliver of the quota and all failing later.
ANNOUNCED_FORM_SLACK = 8 * 1024
# One part header line at most: room for a 10,000-character file name (percent-escaped
# non-ASCII names take three bytes a character); longer headers get 400.
MAX_PART_HEADER_BYTES = 32 * 1024
# A form has a handful of fields (file, language, speakers, callback_url; repeated
# ``timestamp_granularities[]`` count each time), each a few headers.
MAX_PARTS = 32
MAX_HEADERS_PER_PART = 16


@dataclass
class Upload:
    filename: str
    size: int
    sniffed: str | None
    key: str
    fields: dict[str, str] = field(default_factory=dict)
    # Every value of each form field in order (``timestamp_granularities[]`` repeats); ``fields``
    # keeps the last one.
    all_fields: dict[str, list[str]] = field(default_factory=dict)


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
        self.parts = self.header_lines = 0

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
        self.header_lines = 0
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ApiError(400, "invalid_multipart", f"the form has more than {MAX_PARTS} parts")

    def _header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = self._hval
        self._hname = self._hval = b""
        self.header_lines += 1
        if self.header_lines > MAX_HEADERS_PER_PART:
            raise ApiError(400, "invalid_multipart", f"a part has more than {MAX_HEADERS_PER_PART} headers")

    def _headers_done(self) -> None:
        _, opts = parse_options_header(self._headers.get("content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        fname = opts.get(b"filename")
        self.events.append(
            ("begin", _Part(name, fname.decode("utf-8", "replace") if fname is not None else None, self._headers))
        )


class UploadReceiver:
    """One multipart body, parsed as it arrives: the ``file_field`` part streams into storage
    under ``key_for(display name)``, small form fields are collected, limits are enforced."""

    def __init__(self, *, file_field: str | tuple[str, ...], storage: Storage,
                 key_for: Callable[[str], str], max_bytes: int, chunk_bytes: int,
                 reserve: Callable[[int], None] | None = None) -> None:
        # One field name, or several accepted alike (the first file part found is the media).
        self.file_fields = (file_field,) if isinstance(file_field, str) else file_field
        self.file_field = "/".join(self.file_fields)
        self.storage, self.key_for = storage, key_for
        self.max_bytes, self.chunk_bytes = max_bytes, chunk_bytes
        # Called (in a thread) with the file's running size before its bytes are written (never
        # below what the announced length reserved until the end, then the exact size); raises
        # to refuse (a quota).
        self.reserve = reserve
        self.reserved = 0
        self.fields: dict[str, str] = {}
        self.all_fields: dict[str, list[str]] = {}
        self.part: _Part | None = None
        self.in_file = self.done_file = False
        self.filename = self.key = ""
        self.size = 0
        self.sniffed: str | None = None
        self.writer: Writer | None = None
        self.head = bytearray()  # the file's first bytes, kept until they can be sniffed
        self.buf = bytearray()  # file bytes waiting for a full chunk
        self.small = bytearray()  # the current form field's value

    def check_headers(self, request: Request) -> bytes:
        """The multipart boundary; 400 for another body, 413 when Content-Length is too big."""
        ctype, params = parse_options_header(request.headers.get("content-type", ""))
        if ctype != b"multipart/form-data" or b"boundary" not in params:
            raise ApiError(400, "invalid_request",
                           f"send multipart/form-data with the media in field {self.file_field!r}")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes + FORM_OVERHEAD:
            raise ApiError(413, "too_large",
                           f"the upload is {int(declared)} bytes, over the limit of {self.max_bytes} bytes")
        return params[b"boundary"]  # type: ignore[no-any-return]

    async def receive(self, request: Request) -> Upload:
        """Read the whole body; the stored object is committed, or removed on any error."""
        rx = _Receiver()
        parser = MultipartParser(self.check_headers(request), rx.callbacks(),  # type: ignore[arg-type]
                                 max_header_size=MAX_PART_HEADER_BYTES)
        total, bound = 0, self.max_bytes + FORM_OVERHEAD
        declared = request.headers.get("content-length", "")
        if declared.isdigit():  # the form around the file aside, refused before a byte is read
            await self._reserve(min(int(declared) - ANNOUNCED_FORM_SLACK, self.max_bytes))
        try:
            async for chunk in request.stream():
                if not chunk:
                    continue
                # Every byte counts, whichever part it is in and however it came (chunked too).
                total += len(chunk)
                if total > bound:
                    raise ApiError(413, "too_large", f"the upload is over the limit of {self.max_bytes} bytes")
                try:
                    parser.write(chunk)
                except MultipartParseError as e:
                    raise ApiError(400, "invalid_multipart", f"malformed multipart body: {e}") from e
                for kind, payload in rx.events:
                    if kind == "begin":
                        self._begin(payload)  # type: ignore[arg-type]
                    elif kind == "data" and self.part is not None:
                        await self._data(payload)  # type: ignore[arg-type]
                    elif kind == "end" and self.part is not None:
                        await self._end()
                rx.events.clear()
            parser.finalize()
            if self.part is not None or parser.state not in (MultipartState.START, MultipartState.END):
                raise ApiError(400, "invalid_multipart",
                               "the multipart body ends inside a part (truncated upload?)")
            if not self.done_file:
                raise ApiError(400, "missing_file", f"no file in form field {self.file_field!r}")
            assert self.writer is not None
            await run_in_threadpool(self.writer.commit)
            if self.reserve is not None and self.reserved > self.size:
                await run_in_threadpool(self.reserve, self.size)  # what the file really holds
        except BaseException:
            if self.writer is not None:
                await run_in_threadpool(self.writer.abort)
            raise
        return Upload(filename=self.filename, size=self.size, sniffed=self.sniffed, key=self.key,
                      fields=self.fields, all_fields=self.all_fields)

    def _begin(self, part: _Part) -> None:
        self.part = part
        self.in_file = part.name in self.file_fields and not self.done_file
        self.small.clear()
        if self.in_file:
            self.filename = display_name(part.filename)
            self.key = self.key_for(self.filename)

    async def _data(self, data: bytes) -> None:
        assert self.part is not None
        if self.in_file:
            self.size += len(data)
            if self.size > self.max_bytes:
                raise ApiError(413, "too_large", f"the upload is over the limit of {self.max_bytes} bytes")
            if self.writer is None:
                self.head += data
                if len(self.head) >= SNIFF_BYTES:
                    await self._open(bytes(self.head))
                    self.head.clear()
            else:
                self.buf += data
                if len(self.buf) >= self.chunk_bytes:
                    await self._flush()
        elif self.part.filename is None:
            self.small += data
            if len(self.small) > MAX_FIELD_BYTES:
                raise ApiError(400, "invalid_request", f"form field {self.part.name!r} is too long")

    async def _end(self) -> None:
        assert self.part is not None
        if self.in_file:
            if self.size == 0:
                raise ApiError(400, "empty_file", f"field {self.file_field!r} holds an empty file")
            if self.writer is None:
                await self._open(bytes(self.head))
                self.head.clear()
            elif self.buf:
                await self._flush()
            self.in_file, self.done_file = False, True
        elif self.part.filename is None and self.part.name:
            value = self.small.decode("utf-8", "replace").strip()
            self.fields[self.part.name] = value
            self.all_fields.setdefault(self.part.name, []).append(value)
        self.part = None

    async def _open(self, first: bytes) -> None:
        """Sniff the first bytes, refuse text, open the storage writer and write them."""
        self.sniffed = sniff(first)
        if self.sniffed is None and looks_like_text(first):
            raise ApiError(415, "unsupported_media", f"{self.filename!r} is text, not audio or video")
        await self._reserve(self.size)
        self.writer = await run_in_threadpool(self.storage.open_writer, self.key,
                                              self.sniffed or "application/octet-stream")
        if first:
            await run_in_threadpool(self.writer.write, first)

    async def _reserve(self, total: int) -> None:
        if self.reserve is not None and total > self.reserved:
            await run_in_threadpool(self.reserve, total)
            self.reserved = total

    async def _flush(self) -> None:
        assert self.writer is not None
        await self._reserve(self.size)  # every file byte so far, these included
        await run_in_threadpool(self.writer.write, bytes(self.buf))
        self.buf.clear()


async def receive_upload(
    request: Request,
    *,
    file_field: str | tuple[str, ...],
    storage: Storage,
    key_for: Callable[[str], str],
    max_bytes: int,
    chunk_bytes: int,
    reserve: Callable[[int], None] | None = None,
) -> Upload:
    """Stream the ``file_field`` part of a multipart body into storage under ``key_for(name)``,
    each chunk counted by ``reserve`` before it is written."""
    rx = UploadReceiver(file_field=file_field, storage=storage, key_for=key_for,
                        max_bytes=max_bytes, chunk_bytes=chunk_bytes, reserve=reserve)
    return await rx.receive(request)
