"""Reading flaky-tests.yml fast and safely: YAML events -> plain values -> checked records.

The values are built from libyaml's event stream (PyYAML's C parser) instead of ``yaml.load``:
about twice as fast on a 500-entry registry, and every danger is refused where it shows up:
anchors and aliases (the "billion laughs" bomb), tags that construct objects, merge keys,
duplicate keys, several documents, nesting deeper than ``MAX_DEPTH`` (PyYAML's C composer
recurses and crashes the interpreter on a deep enough file). Plain scalars resolve as PyYAML's
YAML 1.1 rules say, except that timestamps stay text: the registry parses its own dates, so a
bad one is a message with a line number instead of a ValueError from deep inside PyYAML.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from gatekeeper.errors import RegistryError
from gatekeeper.model import Registry
from gatekeeper.registry import codec
from gatekeeper.registry.validate import Path, Problem, problems

MAX_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 32  # a registry needs 5 levels; unknown keys may nest some more

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # pure Python if no libyaml
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
# Plain scalars whose first character no implicit resolver claims are strings: skip the lookup.
_RESOLVED_FIRST = frozenset(yaml.resolver.Resolver.yaml_implicit_resolvers)
_TAG = "tag:yaml.org,2002:"
# What YAML lets a stream contain (the YAML 1.1 printable set, as PyYAML's reader checks it).
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_NO_KEY = object()
# Plain scalars repeat (true, flaky, counts, dates): their values, resolved once per process.
_PLAIN_MEMO: dict[str, Any] = {}


@dataclass(slots=True)
class Span:
    """Where a value sits in the text: 0-based (line, column) marks, as the writer needs them."""

    start: tuple[int, int]
    end: tuple[int, int]
    flow: bool = False
    key_start: tuple[int, int] | None = None  # the key, for a value in a mapping
    key_end: tuple[int, int] | None = None
    children: dict[str | int, Span] = field(default_factory=dict)

    def last_line(self) -> int:
        """The last line holding this value's text (block collections end at their last child)."""
        if self.children and not self.flow:
            return list(self.children.values())[-1].last_line()
        line, column = self.end
        # A block scalar (|, >) ends at the start of the line after its text.
        return line - 1 if column == 0 and line > self.start[0] else line


@dataclass(slots=True)
class _Frame:
    container: dict[str, Any] | list[Any]
    path: Path
    span: Span | None
    is_map: bool
    key: Any = _NO_KEY
    key_start: tuple[int, int] | None = None
    key_end: tuple[int, int] | None = None
    key_lines: dict[str, int] = field(default_factory=dict)


def decode(data: str | bytes, source: str) -> str:
    """The text of a registry file: UTF-8 (a BOM is allowed), with \\n line ends."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise RegistryError(
                source,
                f"{len(data):,} bytes is too large for a registry (the limit is {MAX_BYTES:,})",
                hint="is this the right file?",
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            raise RegistryError(
                source, "not UTF-8 text", line=line, hint="save the file as UTF-8"
            ) from err
    else:
        text = data[1:] if data.startswith("\ufeff") else data
    return text.replace("\r\n", "\n")


def parse(data: str | bytes, source: str) -> Registry:
    """The registry in ``data``; ``source`` names the file in messages. Raises RegistryError."""
    text = decode(data, source)
    document, _ = _build(text, source, track=False)
    return _check(text, source, document)


def parse_document(text: str, source: str) -> tuple[Registry, Any, Span | None]:
    """``parse`` plus the plain document and where each value sits (for the writer)."""
    document, spans = _build(text, source, track=True)
    return _check(text, source, document, spans), document, spans


# ---------------------------------------------------------------------------------------------
# Events -> plain values
# ---------------------------------------------------------------------------------------------


def _build(text: str, source: str, *, track: bool) -> tuple[Any, Span | None]:
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        raise RegistryError(
            source,
            f"the file contains the character U+{ord(bad.group()):04X}, which YAML does not allow",
            line=text.count("\n", 0, bad.start()) + 1,
            hint="remove it, or write it as an escape in a double-quoted string",
        )
    loader = _Loader(text)
    stack: list[_Frame] = []
    result: list[tuple[Any, Span | None]] = []
    documents = 0
    memo = _PLAIN_MEMO
    try:
        while loader.check_event():
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                frame = stack[-1] if stack else None
                if frame is not None and frame.is_map and frame.key is _NO_KEY:
                    _take_key(frame, event, source)
                    continue
                if event.anchor is not None:
                    _no_anchor(event, source, frame)
                value: Any = _NO_KEY
                if event.tag is None and event.implicit[0]:  # plain: the common case
                    value = memo.get(event.value, _NO_KEY)
                if value is _NO_KEY:
                    value = _scalar(event, source, frame)
                    if event.tag is None and event.implicit[0] and len(memo) < 4096:
                        memo[event.value] = value  # immutable: str, int, float, bool, None
                span = Span(_mark(event.start_mark), _mark(event.end_mark)) if track else None
                if frame is None:
                    result.append((value, span))
                elif frame.is_map:
                    if span is not None and frame.span is not None:
                        span.key_start, span.key_end = frame.key_start, frame.key_end
                        frame.span.children[frame.key] = span
                    frame.container[frame.key] = value
                    frame.key = _NO_KEY
                else:
                    if span is not None and frame.span is not None:
                        frame.span.children[len(frame.container)] = span
                    frame.container.append(value)  # type: ignore[union-attr]
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                frame = stack[-1] if stack else None
                if frame is not None and frame.is_map and frame.key is _NO_KEY:
                    raise _error(source, event, frame, "a key must be a plain value, not a list")
                _no_anchor(event, source, frame)
                mapping = kind is yaml.MappingStartEvent
                _collection_tag(event, source, frame, mapping)
                if len(stack) >= MAX_DEPTH:
                    raise _error(
                        source,
                        event,
                        frame,
                        f"nested more than {MAX_DEPTH} levels deep",
                        hint="the registry is a list of entries with a few fields each",
                    )
                container: dict[str, Any] | list[Any] = {} if mapping else []
                span = None
                if track:
                    start = _mark(event.start_mark)
                    span = Span(start, start, flow=bool(event.flow_style))
                path = _child_path(frame)
                _attach(stack, result, container, span)
                stack.append(_Frame(container, path, span, mapping))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                done = stack.pop()
                if done.span is not None:
                    done.span.end = _mark(event.end_mark)
            elif kind is yaml.AliasEvent:
                raise _error(
                    source,
                    event,
                    stack[-1] if stack else None,
                    f"the YAML alias *{event.anchor} is not allowed in the registry",
                    hint="write the value out in full; anchors and aliases can hide huge values",
                )
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise RegistryError(
                        source,
                        "the file holds more than one YAML document",
                        line=event.start_mark.line + 1,
                        hint="keep one document: remove the `---` line and what follows",
                    )
    except yaml.MarkedYAMLError as err:
        raise _syntax_error(source, err) from err
    except yaml.YAMLError as err:  # a reader problem the check above did not foresee
        raise RegistryError(source, f"not readable as YAML: {err}") from err
    finally:
        loader.dispose()
    return result[0] if result else (None, None)


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line, mark.column)


def _child_path(frame: _Frame | None) -> Path:
    if frame is None:
        return ()
    if not frame.is_map:
        return (*frame.path, len(frame.container))
    if frame.key is _NO_KEY:  # the problem is in the key itself
        return frame.path
    return (*frame.path, frame.key)


def _attach(
    stack: list[_Frame], result: list[tuple[Any, Span | None]], value: Any, span: Span | None
) -> None:
    if not stack:
        result.append((value, span))
        return
    frame = stack[-1]
    if isinstance(frame.container, list):
        if span is not None and frame.span is not None:
            frame.span.children[len(frame.container)] = span
        frame.container.append(value)
        return
    if span is not None and frame.span is not None:
        span.key_start, span.key_end = frame.key_start, frame.key_end
        frame.span.children[frame.key] = span
    frame.container[frame.key] = value
    frame.key = _NO_KEY


def _take_key(frame: _Frame, event: Any, source: str) -> None:
    # Keys are taken as written: `on:` is the key "on", not true as YAML 1.1 would have it.
    key = event.value
    line = event.start_mark.line + 1
    if event.anchor is not None:
        _no_anchor(event, source, frame)
    if event.implicit[0] and key == "<<":
        raise RegistryError(
            source,
            "merge keys (<<) are not allowed in the registry",
            line=line,
            field=_field(frame.path),
            hint="write the keys out in each entry",
        )
    first = frame.key_lines.get(key)
    if first is not None:
        raise RegistryError(
            source,
            f"duplicate key, first on line {first}",
            line=line,
            field=_field((*frame.path, key)),
            hint="keep one; YAML would silently use the last",
        )
    frame.key_lines[key] = line
    frame.key = key
    if frame.span is not None:
        frame.key_start, frame.key_end = _mark(event.start_mark), _mark(event.end_mark)


def _no_anchor(event: Any, source: str, frame: _Frame | None) -> None:
    if event.anchor is not None:
        raise _error(
            source,
            event,
            frame,
            f"the YAML anchor &{event.anchor} is not allowed in the registry",
            hint="write each value out in full; anchors and aliases can hide huge values",
        )


def _scalar(event: Any, source: str, frame: _Frame | None) -> Any:
    tag = event.tag
    text: str = event.value
    if tag is None or tag == "!":
        if not event.implicit[0]:
            return text  # quoted, or a block scalar
        if text[:1] not in _RESOLVED_FIRST:
            return text
        tag = resolve_plain(text)
    name = tag[len(_TAG) :] if tag.startswith(_TAG) else None
    if name in ("str", "timestamp", "value", "merge"):
        return text  # dates are checked and parsed by the registry itself
    if name == "null":
        return None
    if name in ("int", "float", "bool"):
        construct = getattr(_CONSTRUCTOR, f"construct_yaml_{name}")
        try:
            return construct(yaml.ScalarNode(tag, text))
        except (ValueError, KeyError) as err:
            raise _error(source, event, frame, f"{text!r} is not a valid !!{name}") from err
    raise _error(
        source,
        event,
        frame,
        f"the YAML tag {_show_tag(tag)} is not allowed in the registry",
        hint="it holds plain text, numbers, true/false, dates, lists and mappings",
    )


def resolve_plain(text: str) -> str:
    """The tag YAML 1.1 (PyYAML) gives ``text`` written as a plain scalar."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag


def _collection_tag(event: Any, source: str, frame: _Frame | None, mapping: bool) -> None:
    allowed = (None, "!", _TAG + ("map" if mapping else "seq"))
    if event.tag not in allowed:
        raise _error(
            source,
            event,
            frame,
            f"the YAML tag {_show_tag(event.tag)} is not allowed in the registry",
            hint="it holds plain text, numbers, true/false, dates, lists and mappings",
        )


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _error(
    source: str, event: Any, frame: _Frame | None, problem: str, *, hint: str | None = None
) -> RegistryError:
    path = _child_path(frame) if frame is not None else ()
    return RegistryError(
        source, problem, line=event.start_mark.line + 1, field=_field(path) or None, hint=hint
    )


def _syntax_error(source: str, err: yaml.MarkedYAMLError) -> RegistryError:
    mark = err.problem_mark or err.context_mark
    problem = f"not valid YAML: {err.problem or err.context}"
    if err.problem and err.context and err.context_mark is not None:
        problem += f" ({err.context} on line {err.context_mark.line + 1})"
    return RegistryError(
        source,
        problem,
        line=None if mark is None else mark.line + 1,
        hint="check the indentation, the colons and the quotes",
    )


# ---------------------------------------------------------------------------------------------
# Plain values -> records, with every problem named by file, line and field
# ---------------------------------------------------------------------------------------------


def _check(text: str, source: str, document: Any, spans: Span | None = None) -> Registry:
    if document is None:  # an empty file, or only comments
        return Registry()
    found = problems(document)
    if not found:
        found = _semantic_problems(document)
    if found:
        if spans is None:
            _, spans = _build(text, source, track=True)
        raise _first_error(source, found, spans)
    registry = codec.registry_from_plain(document)
    notes = _unknown_key_notes(document)
    if notes:
        if spans is None:
            _, spans = _build(text, source, track=True)
        warnings = tuple(
            f"{source}:{line_of(spans, path)}: {_field(path)}: {note}" for path, note in notes
        )
        registry = Registry(registry.entries, registry.extra, warnings)
    return registry


def _semantic_problems(document: dict[str, Any]) -> list[Problem]:
    """What the schema cannot say: one entry per (service, name); numbers that are numbers."""
    found: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(document.get("flaky_tests") or ()):
        key = (entry["service"], entry["name"])
        if key in seen:
            found.append(Problem(("flaky_tests", index), "duplicate", seen[key], {}))
        else:
            seen[key] = index
        evidence = entry.get("evidence") or {}
        interval = evidence.get("failure_rate_ci95") or []
        numbers = [
            (("evidence", "confidence"), evidence.get("confidence")),
            (("evidence", "failure_rate"), evidence.get("failure_rate")),
            *((("evidence", "failure_rate_ci95", i), v) for i, v in enumerate(interval)),
        ]
        for where, value in numbers:
            if isinstance(value, float) and not math.isfinite(value):
                found.append(Problem(("flaky_tests", index, *where), "finite", value, {}))
        if len(interval) == 2 and interval[0] > interval[1]:
            path = ("flaky_tests", index, "evidence", "failure_rate_ci95")
            found.append(Problem(path, "interval", interval, {}))
    return found


def _first_error(source: str, found: list[Problem], spans: Span | None) -> RegistryError:
    # The first problem in file order is the one to fix first; on one line, the schema's order.
    ranked = sorted(found, key=lambda p: line_of(spans, p.path))
    problem = ranked[0]
    text, hint = _describe(problem)
    line = line_of(spans, problem.path)
    if problem.keyword == "duplicate":
        text = text.format(first_line=line_of(spans, ("flaky_tests", problem.value)))
    return RegistryError(source, text, line=line, field=_field(problem.path) or None, hint=hint)


_REQUIRED_HINTS = {
    "flaky_tests": "the file holds `flaky_tests:` followed by a list of entries",
    "name": "the test id, as `gatekeeper quarantine list` shows it",
    "service": "the service whose runs the test is in, as given to --service",
    "reason": "say why the test is quarantined",
    "verdict": "`gatekeeper classify` writes the evidence; delete the block to let it rewrite it",
}
_TYPE_NAMES = {
    "string": "text",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "array": "a list",
    "object": "a mapping",
}


def _describe(problem: Problem) -> tuple[str, str | None]:
    """The message and hint for one problem (``{first_line}`` is filled in by the caller)."""
    schema, value, keyword = problem.schema, problem.value, problem.keyword
    if schema.get("format") == "date" and keyword in ("type", "format", "pattern"):
        return f"{_show(value)} is not a date", "write YYYY-MM-DD"
    if keyword == "required":
        return "missing", _REQUIRED_HINTS.get(str(problem.path[-1]))
    if keyword == "type":
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        expected = " or ".join(_TYPE_NAMES[k] for k in kinds if k != "null")
        if problem.path == ():
            return "the top level must be a mapping", "start the file with `flaky_tests:`"
        hint = None
        if "string" in kinds and isinstance(value, bool | int | float):
            hint = "put it in quotes: YAML reads yes/no/on/off as true/false and digits as numbers"
        return f"must be {expected}, not {_show(value)}", hint
    if keyword == "enum":
        options = ", ".join(str(o) for o in schema["enum"])
        return f"{_show(value)} is not one of: {options}", None
    if keyword == "minLength":
        return "must not be empty", None
    if keyword in ("minimum", "maximum", "finite"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if keyword == "finite" or (low is not None and high is not None):
            return f"{_show(value)} is not between 0 and 1", None
        bound = f"at least {low}" if keyword == "minimum" else f"at most {high}"
        return f"must be {bound}, not {_show(value)}", None
    if keyword in ("minItems", "maxItems"):
        return f"must be two numbers [low, high], not {len(value)}", None
    if keyword == "duplicate":
        return (
            "the same test and service are listed again (first on line {first_line})",
            "keep one entry per test and service",
        )
    if keyword == "interval":
        return f"[{value[0]}, {value[1]}] is not [low, high]", "the low end comes first"
    return f"{_show(value)} does not match the schema ({keyword})", None  # pragma: no cover


def _unknown_key_notes(document: dict[str, Any]) -> list[tuple[Path, str]]:
    """Unknown keys that look like a typo of a known one (unknown keys are kept, silently)."""
    notes: list[tuple[Path, str]] = []

    def look(mapping: dict[str, Any], known: tuple[str, ...], path: Path) -> None:
        for key in mapping:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
                if close:
                    notes.append(
                        ((*path, key), f"unknown key, kept as is (did you mean '{close[0]}'?)")
                    )

    look(document, codec.TOP_KEYS, ())
    for index, entry in enumerate(document.get("flaky_tests") or ()):
        look(entry, codec.ENTRY_KEYS, ("flaky_tests", index))
        if isinstance(entry.get("evidence"), dict):
            look(entry["evidence"], codec.EVIDENCE_KEYS, ("flaky_tests", index, "evidence"))
    return notes


def line_of(spans: Span | None, path: Path) -> int:
    """The 1-based line of the value at ``path``; a missing key gives its mapping's line."""
    node = spans
    if node is None:
        return 1
    for part in path:
        child = node.children.get(part)
        if child is None:
            break
        node = child
    return node.start[0] + 1


def _field(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "empty"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return str(value)
