"""Reading an upload: a multipart form of report files and run metadata, within the limits.

The body is counted while it streams in, so a request over the limit is refused before it is
all on the server; files are spooled to temporary files by Starlette's parser, never written
under their own names.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from gatekeeper.api import MetaFlags, OptionError, Upload, UploadLimits, upload_flags, upload_name
from gatekeeper.service.errors import MediaTypeError

FILE_FIELD = "files"
TEXT_FIELDS = ("service", "commit", "branch", "run_id", "attempt", "timestamp", "format")
_MAX_TEXT = 4096  # bytes in one metadata field: a commit, a branch, a run id
# After refusing a body as too large, read (and drop) up to this much more of it, so that the
# client gets the 413 instead of a broken connection while it is still sending.
_DRAIN = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadForm:
    uploads: list[Upload]
    flags: MetaFlags
    fmt: str
    service: str  # for metrics and logs ("" when not given)


async def _drain(stream: AsyncIterator[bytes]) -> None:
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > _DRAIN:
            return


async def read_upload(request: Request, limits: UploadLimits) -> UploadForm:
    """The form's files and fields; errors with the CLI's wording where there is one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise MediaTypeError(
            f"Content-Type {kind or '(none)'}: an upload is a multipart/form-data form",
            hint="send the reports as file fields named files, e.g. curl -F files=@junit.xml "
            "-F service=NAME",
        )
    stream = request.stream()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_request_bytes:
        await _drain(stream)
        raise limits.request_too_large()

    too_large = False

    async def counted() -> AsyncGenerator[bytes, None]:
        nonlocal too_large
        total = 0
        async for chunk in stream:
            total += len(chunk)
            if total > limits.max_request_bytes:
                too_large = True
                return
            yield chunk

    parser = MultiPartParser(
        request.headers,
        counted(),
        max_files=limits.max_files,
        max_fields=len(TEXT_FIELDS) * 2,
        max_part_size=_MAX_TEXT,
    )
    try:
        form = await parser.parse()
    except MultiPartException as err:
        if too_large:
            await _drain(stream)
            raise limits.request_too_large() from None
        raise OptionError(
            f"the upload: not a multipart form gatekeeper can read ({err.message})",
            hint="send the reports as file fields named files, and the metadata as text fields",
        ) from None
    if too_large:  # the stream ended early at the limit: the form is cut off
        await _drain(stream)
        raise limits.request_too_large()
    try:
        return await _fields(form.multi_items(), limits)
    finally:
        await form.close()


async def _fields(items: list[tuple[str, str | UploadFile]], limits: UploadLimits) -> UploadForm:
    text: dict[str, str] = {}
    uploads: list[Upload] = []
    for name, value in items:
        if isinstance(value, UploadFile):
            if name != FILE_FIELD:
                raise OptionError(
                    f"{name}: a file in a field other than {FILE_FIELD}",
                    hint=f"send every report as a file field named {FILE_FIELD}",
                )
            shown = upload_name(value.filename, len(uploads))
            if value.size is not None and value.size > limits.max_file_bytes:
                raise limits.file_too_large(shown, value.size)
            uploads.append(Upload(shown, await value.read()))
            continue
        if name == FILE_FIELD:
            raise OptionError(
                f"{FILE_FIELD}: a text field, not a file",
                hint="send each report as a file: curl -F files=@junit.xml",
            )
        if name not in TEXT_FIELDS:
            raise OptionError(
                f"{name}: not a field of an upload",
                hint="the fields are files, " + ", ".join(TEXT_FIELDS),
            )
        if name in text:
            raise OptionError(f"{name}: given twice", hint="send each metadata field once")
        text[name] = value
    flags = upload_flags(
        service=text.get("service"),
        commit=text.get("commit"),
        branch=text.get("branch"),
        run_id=text.get("run_id"),
        attempt=text.get("attempt"),
        timestamp=text.get("timestamp"),
    )
    return UploadForm(
        uploads=uploads,
        flags=flags,
        fmt=text.get("format") or "auto",
        service=text.get("service") or "",
    )
