"""Reading an upload: a multipart form of report files and run metadata, within the limits
(and the form of `POST /api/v1/classify`: a registry file and options).

The body is counted while it streams in, so a request over the limit is refused before it is
all on the server; files are spooled to temporary files by Starlette's parser, never written
under their own names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from gatekeeper.api import (
    MetaFlags,
    OptionError,
    Upload,
    UploadLimits,
    UploadTooLargeError,
    parse_changed_lines,
    upload_flags,
    upload_name,
)
from gatekeeper.errors import MetadataError
from gatekeeper.service.errors import MediaTypeError

FILE_FIELD = "files"
TEXT_FIELDS = (
    "service", "commit", "branch", "run_id", "attempt", "timestamp", "format", "ci_provider",
    "ci_url",
)  # fmt: skip
# Repeated: the client's notes on files it passed over in folders (the run's first warnings).
NOTE_FIELD = "note"
MAX_NOTES = 100
# The gate's patch coverage over HTTP: the base ref, the client's checkout folder (report
# paths are made relative to it), and the changed lines of its `git diff`, as a JSON file.
GATE_FIELDS = ("base_ref", "repo_root")
CHANGED_FIELD = "changed_lines"
# POST /api/v1/classify: the caller's registry file, the name messages give it, and options.
REGISTRY_FIELD = "registry"
CLASSIFY_FIELDS = ("name", "service", "dry_run", "allow_mass_quarantine")
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
    notes: tuple[str, ...] = ()
    base_ref: str | None = None  # the gate only
    repo_root: str | None = None
    changed: dict[str, frozenset[int]] | None = None


@dataclass(frozen=True, slots=True)
class ClassifyForm:
    data: bytes | None  # the registry file's bytes; None: the caller has none yet
    name: str  # the file as the caller's messages name it
    service: str | None
    dry_run: bool
    allow_mass_quarantine: bool = False


log = logging.getLogger("gatekeeper.service")
# Characters no metadata field may hold: control characters (a line break, ESC), the line and
# paragraph separators, and the invisible bidi controls that reorder what a log shows.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


async def _drain(stream: AsyncIterator[bytes]) -> None:
    seen = 0
    try:
        async for chunk in stream:
            seen += len(chunk)
            if seen > _DRAIN:
                return
    except ClientDisconnect:  # it gave up while we read what it sent: nobody to answer
        log.info("the client disconnected while its oversized upload was being refused")


class _StrictParser(MultiPartParser):
    """Starlette's parser, but a text field that is not UTF-8 is refused instead of being
    decoded as Latin-1 (the bytes ``m\\xff\\xfeta`` would be stored as "m\u00ff\u00feta")."""

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            try:
                bytes(part.data).decode("utf-8")
            except UnicodeDecodeError as err:
                raise MetadataError(
                    f"{part.field_name}: not UTF-8 text (byte {err.start + 1} is "
                    f"{part.data[err.start]:#04x})",
                    hint="send the metadata fields as UTF-8",
                ) from None
        super().on_part_end()


async def _read_form(request: Request, limits: UploadLimits, max_fields: int) -> FormData:
    """The multipart form, counted against the request limit as it streams in. The caller
    closes it (its files are spooled to temporary files)."""
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

    parser = _StrictParser(
        request.headers,
        counted(),
        max_files=limits.max_files,
        max_fields=max_fields,
        max_part_size=_MAX_TEXT,
    )
    try:
        form = await parser.parse()
    except ClientDisconnect:
        log.info("the client disconnected before its upload was complete")
        raise OptionError(
            "the upload: the client disconnected before the form was complete",
            hint="nothing was stored; send it again",
        ) from None
    except MultiPartException as err:
        if too_large:
            await _drain(stream)
            raise limits.request_too_large() from None
        if err.message.startswith("Too many files"):  # Starlette's words for max_files
            raise UploadTooLargeError(
                "the upload",
                f"more than the limit of {limits.max_files:,} files per request",
                hint="send the run's reports as fewer files, or raise the server's limit",
            ) from None
        raise OptionError(
            f"the upload: not a multipart form gatekeeper can read ({err.message})",
            hint="send the reports as file fields named files, and the metadata as text fields",
        ) from None
    if too_large:  # the stream ended early at the limit: the form is cut off
        await form.close()
        await _drain(stream)
        raise limits.request_too_large()
    return form


async def read_upload(request: Request, limits: UploadLimits, *, gate: bool = False) -> UploadForm:
    """The form's files and fields; errors with the CLI's wording where there is one. The
    gate's form may also hold the fields of patch coverage (GATE_FIELDS, CHANGED_FIELD)."""
    text_fields = TEXT_FIELDS + GATE_FIELDS if gate else TEXT_FIELDS
    form = await _read_form(request, limits, (len(text_fields) + 1) * 2 + MAX_NOTES)
    try:
        return await _fields(form.multi_items(), limits, text_fields, gate)
    finally:
        await form.close()


async def _fields(
    items: list[tuple[str, str | UploadFile]],
    limits: UploadLimits,
    text_fields: tuple[str, ...],
    gate: bool,
) -> UploadForm:
    text: dict[str, str] = {}
    uploads: list[Upload] = []
    notes: list[str] = []
    changed: dict[str, frozenset[int]] | None = None
    for name, value in items:
        if isinstance(value, UploadFile):
            if gate and name == CHANGED_FIELD:
                if changed is not None:
                    raise OptionError(f"{name}: given twice", hint="send the changed lines once")
                changed = parse_changed_lines(await value.read())
                continue
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
        if name == NOTE_FIELD:
            if len(notes) >= MAX_NOTES:
                raise OptionError(
                    f"{NOTE_FIELD}: more than {MAX_NOTES} notes", hint="send fewer notes"
                )
            notes.append(value)
            continue
        if name not in text_fields:
            raise OptionError(
                f"{name}: not a field of an upload",
                hint="the fields are files, " + ", ".join((*text_fields, NOTE_FIELD)),
            )
        if name in text:
            raise OptionError(f"{name}: given twice", hint="send each metadata field once")
        _check_text(name, value)
        text[name] = value
    flags = upload_flags(
        service=text.get("service"),
        commit=text.get("commit"),
        branch=text.get("branch"),
        run_id=text.get("run_id"),
        attempt=text.get("attempt"),
        timestamp=text.get("timestamp"),
        ci_provider=text.get("ci_provider"),
        ci_url=text.get("ci_url"),
    )
    return UploadForm(
        uploads=uploads,
        flags=flags,
        fmt=text.get("format") or "auto",
        service=text.get("service") or "",
        notes=tuple(notes),
        base_ref=text.get("base_ref") or None,
        repo_root=text.get("repo_root") or None,
        changed=changed,
    )


def _check_text(name: str, value: str) -> None:
    """A metadata field is one line of printable text; given, it is not blank."""
    bad = _UNPRINTABLE.search(value)
    if bad is not None:
        what = "a line break" if bad.group() in "\r\n\u2028\u2029" else "a control character"
        raise MetadataError(
            f"{name}: holds {what} ({bad.group()!r} at character {bad.start() + 1})",
            hint="send each metadata field as one line of printable text",
        )
    if value and not value.strip():
        raise MetadataError(
            f"{name}: blank (only spaces)", hint=f"send a {name}, or leave the field out"
        )


_TRUE = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


async def read_classify(request: Request, limits: UploadLimits) -> ClassifyForm:
    """The form of `POST /api/v1/classify`: an optional registry file and the options."""
    form = await _read_form(request, limits, len(CLASSIFY_FIELDS) * 2)
    try:
        data: bytes | None = None
        text: dict[str, str] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != REGISTRY_FIELD:
                    raise OptionError(
                        f"{name}: a file in a field other than {REGISTRY_FIELD}",
                        hint=f"send the registry file as the file field {REGISTRY_FIELD}",
                    )
                if data is not None:
                    raise OptionError(f"{name}: given twice", hint="send one registry file")
                if value.size is not None and value.size > limits.max_file_bytes:
                    raise limits.file_too_large(value.filename or REGISTRY_FIELD, value.size)
                data = await value.read()
                continue
            if name not in CLASSIFY_FIELDS:
                raise OptionError(
                    f"{name}: not a field of a classify request",
                    hint=f"the fields are {REGISTRY_FIELD} (a file), " + ", ".join(CLASSIFY_FIELDS),
                )
            if name in text:
                raise OptionError(f"{name}: given twice", hint="send each field once")
            text[name] = value
    finally:
        await form.close()
    flags = {}
    for name in ("dry_run", "allow_mass_quarantine"):
        flag = text.get(name, "").strip().lower()
        if flag not in _TRUE:
            raise OptionError(f"{name} {text[name]!r}: not true or false")
        flags[name] = _TRUE[flag]
    return ClassifyForm(
        data=data,
        name=_shown(text.get("name") or "flaky-tests.yml"),
        service=text.get("service") or None,
        dry_run=flags["dry_run"],
        allow_mass_quarantine=flags["allow_mass_quarantine"],
    )


def _shown(name: str) -> str:
    """The registry's name as the caller's messages show it (only shown, never opened here):
    control characters become ``?``."""
    return "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in name)
