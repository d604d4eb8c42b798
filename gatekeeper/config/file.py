"""gatekeeper.yml / ``[tool.gatekeeper]``: find the file, read it with line numbers, check it.

The checks are driven by ``gatekeeper.rules``: the keys are the dataclasses' field names, the
types come from their annotations and the ranges from ``metadata`` (``minimum``, ``maximum``,
``top_level_only``, ``internal``), so a field added there is readable here and documented in
``docs/configuration.md`` without a second schema. Every problem is a ConfigError that names
the file, the line and the key: ``gatekeeper.yml:12: services.api.coverage.line: 120 is above
100 (...)``. An unknown key is an error, never ignored: a typo must not turn a gate off.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
import types
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, fields, is_dataclass, replace
from datetime import date, time
from enum import Enum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin, get_type_hints

from gatekeeper.errors import ConfigError
from gatekeeper.rules import (
    BenchmarkOverride,
    BenchmarkRules,
    CoverageRules,
    GateConfig,
    ServiceConfig,
    TestRules,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_T = TypeVar("_T", bound="DataclassInstance")

CONFIG_NAMES = ("gatekeeper.yml", "gatekeeper.yaml")
PYPROJECT = "pyproject.toml"

#: The test runners a service may name (``services.NAME.runner``): the skip-list formats.
RUNNERS = ("cargo", "nextest", "pytest", "gotest")

#: The environment variables that change the configuration, and what each does.
ENV_VARS: dict[str, str] = {
    "GATEKEEPER_CONFIG": (
        "The configuration file to read instead of searching for one (relative to the working "
        "folder). `--config` wins over it."
    ),
    "GATEKEEPER_DEFAULT_BRANCH": "Replaces the file's `default_branch`.",
    "GATEKEEPER_REGISTRY": (
        "Replaces the file's `registry`; a relative path is relative to the working folder. "
        "`--registry` wins over it."
    ),
}

# Fields whose values come from a fixed list though their type is a plain string.
_CHOICES: dict[tuple[type, str], tuple[str, ...]] = {(ServiceConfig, "runner"): RUNNERS}

# Keys that are field names but are written elsewhere in the file: (class, key, in a service).
_NOT_HERE: dict[tuple[type, str, bool], tuple[str, str]] = {
    (GateConfig, "benchmark_overrides", False): (
        "per-benchmark rules are written under benchmarks.overrides",
        "move the list to benchmarks: {overrides: [{name: GLOB, ...}]}",
    ),
    (BenchmarkRules, "overrides", True): (
        "per-benchmark overrides apply to every service and are not set per service",
        "move the list to the top-level benchmarks.overrides",
    ),
    (ServiceConfig, "name", True): (
        "a service is named by its key under services",
        "remove this line; write services: {NAME: {...}}",
    ),
}

# ruamel.yaml's tag for a `<<` merge key (YAML 1.1's merge, which ruamel supports).
_MERGE_TAG = "tag:yaml.org,2002:merge"
# More values than any configuration holds: an alias bomb, not a configuration.
_MAX_VALUES = 100_000

_Path = tuple[str | int, ...]


# ---------------------------------------------------------------------------------------------
# Finding the file
# ---------------------------------------------------------------------------------------------


def find_config(cwd: Path) -> Path | None:
    """The configuration file that applies in ``cwd``, or ``None`` when there is none.

    In the folder the command runs in, then in each parent folder in turn, gatekeeper looks for
    `gatekeeper.yml` (or `gatekeeper.yaml`; both in one folder is an error), else a
    `pyproject.toml` that has a `[tool.gatekeeper]` table; the first folder that has one wins,
    so `gatekeeper.yml` wins over `[tool.gatekeeper]` in the same folder. The search stops
    after the folder that holds `.git` (the repository's root) or at the filesystem root, so a
    configuration outside the repository never applies.
    """
    folder = Path(os.path.abspath(cwd))
    while True:
        found = [folder / name for name in CONFIG_NAMES if (folder / name).is_file()]
        if len(found) > 1:
            raise ConfigError(
                f"{found[1]}: {found[0].name} is in the same folder; gatekeeper would read only "
                "one of them",
                hint=f"keep one: merge them into {found[0].name}",
            )
        if found:
            return found[0]
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_gatekeeper_table(pyproject):
            return pyproject
        if (folder / ".git").exists() or folder.parent == folder:
            return None
        folder = folder.parent


def _has_gatekeeper_table(path: Path) -> bool:
    text = _read_text(path, str(path))
    tool = _toml_loads(text, str(path)).get("tool")
    return isinstance(tool, dict) and "gatekeeper" in tool


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def resolve_config(cwd: Path, env: Mapping[str, str], explicit: Path | None = None) -> GateConfig:
    """The configuration for a command run in ``cwd``: defaults < file < environment.

    The file is ``explicit`` (``--config``), else ``$GATEKEEPER_CONFIG``, else what
    :func:`find_config` finds; with none, the defaults. Then ``GATEKEEPER_DEFAULT_BRANCH`` and
    ``GATEKEEPER_REGISTRY`` (see :data:`ENV_VARS`) replace the file's values; flags such as
    ``--registry`` are the caller's to apply last.
    """
    here = Path(os.path.abspath(cwd))
    named = explicit if explicit is not None else env.get("GATEKEEPER_CONFIG") or None
    if named is not None:
        path = here / named
        if not path.exists():
            by = "--config" if explicit is not None else "GATEKEEPER_CONFIG"
            raise ConfigError(
                f"{named}: no such configuration file (named by {by})",
                hint="check the path; it is relative to the working folder",
            )
        config = load_config(path, name=str(named))
    else:
        found = find_config(here)
        config = GateConfig() if found is None else load_config(found, name=_shown(found, here))
    branch = env.get("GATEKEEPER_DEFAULT_BRANCH", "").strip()
    if branch:
        config = replace(config, default_branch=branch)
    registry = env.get("GATEKEEPER_REGISTRY", "").strip()
    if registry:
        config = replace(config, registry=os.path.normpath(here / registry))
    return config


def _shown(path: Path, cwd: Path) -> str:
    """The found file as messages name it: relative to the working folder when that is short."""
    relative = os.path.relpath(path, cwd)
    return relative if len(relative) <= len(str(path)) else str(path)


def load_config(path: Path, *, name: str | None = None) -> GateConfig:
    """Read one configuration file: YAML, or ``[tool.gatekeeper]`` when it ends in ``.toml``.

    ``name`` is how messages name the file (default: ``path``). The ``registry`` (set or
    default) comes back as an absolute path, relative to the file's folder; ``source`` is the
    file's absolute path.
    """
    shown = name or str(path)
    config = parse_config(_read_text(path, shown), shown, toml=path.suffix == ".toml")
    folder = Path(os.path.abspath(path)).parent
    return replace(
        config,
        registry=os.path.normpath(folder / config.registry),
        source=os.path.abspath(path),
    )


def parse_config(text: str, name: str = CONFIG_NAMES[0], *, toml: bool | None = None) -> GateConfig:
    """The configuration in ``text``; ``name`` names the file in messages.

    ``toml`` (by default: whether ``name`` ends in ``.toml``) reads the ``[tool.gatekeeper]``
    table of a TOML file; otherwise the text is YAML. An empty YAML file (or one with only
    comments) is the defaults."""
    if name.endswith(".toml") if toml is None else toml:
        root = _toml_tree(text, name)
        if root is None:
            raise ConfigError(
                f"{name}: has no [tool.gatekeeper] table",
                hint="add one, or write the configuration in gatekeeper.yml",
            )
        return _Builder(name, ("tool", "gatekeeper")).config(root)
    return _Builder(name, ()).config(_yaml_tree(text, name))


def _read_text(path: Path, shown: str) -> str:
    from gatekeeper.files import read_regular  # a FIFO is refused, not waited on

    try:
        raw = read_regular(path)
    except FileNotFoundError as err:
        raise ConfigError(f"{shown}: no such file", hint="check the path") from err
    except OSError as err:
        raise ConfigError(
            f"{shown}: cannot be read: {err.strerror or err}",
            hint="check that it is a file you can read",
        ) from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"{shown}:{line}: not UTF-8 text (byte {raw[err.start]:#04x})",
            hint="save the file as UTF-8",
        ) from err


# ---------------------------------------------------------------------------------------------
# Both formats become one tree of values with lines
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Value:
    """A value read from the file: a scalar, a list of _Value or a dict of str -> _Value.

    ``line`` is the line to name for it: its key's line, or for a list item the item's own.
    """

    data: Any
    line: int | None


def _yaml_tree(text: str, name: str) -> _Value | None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe", pure=True)  # YAML 1.2: `yes`, `on` are strings, not booleans
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = name if mark is None else f"{name}:{mark.line + 1}"
        problem = str(err.problem or err.context)
        if problem.startswith("but found another document"):
            raise ConfigError(
                f"{where}: the file holds more than one YAML document",
                hint="keep one document: remove the `---` line and what follows",
            ) from err
        if err.problem and err.context:
            context = err.context_mark
            if context is not None and mark is not None and context.line != mark.line:
                problem = f"{err.context} from line {context.line + 1}: {problem}"
            else:
                problem = f"{err.context}: {problem}"
        raise ConfigError(
            f"{where}: not valid YAML: {problem}",
            hint="check the indentation, the colons and the quotes",
        ) from err
    except YAMLError as err:
        raise ConfigError(f"{name}: not readable as YAML: {err}") from err
    if node is None:
        return None
    return _YamlWalker(name, yaml.constructor).value(node, node.start_mark.line + 1, ())


class _YamlWalker:
    """ruamel.yaml's node tree -> _Value, with each key's line, refusing duplicate keys."""

    def __init__(self, name: str, constructor: Any) -> None:
        self.name = name
        self.constructor = constructor
        self.count = 0
        self.active: set[int] = set()

    def error(self, line: int, path: _Path, problem: str, hint: str) -> ConfigError:
        return _error(self.name, (), line, path, problem, hint)

    def value(self, node: Any, line: int, path: _Path) -> _Value:
        from ruamel.yaml.error import YAMLError
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        self.count += 1
        if self.count > _MAX_VALUES:
            raise self.error(
                line,
                path,
                f"more than {_MAX_VALUES} values",
                "write the values out; an alias that repeats an alias grows the file exponentially",
            )
        if id(node) in self.active:
            raise self.error(line, path, "an alias refers to itself", "remove the alias")
        if isinstance(node, MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise self.error(
                    line, path, f"the tag {node.tag} is not supported here", "remove the tag"
                )
            self.active.add(id(node))
            try:
                return _Value(self.mapping(node, path), line)
            finally:
                self.active.discard(id(node))
        if isinstance(node, SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise self.error(
                    line, path, f"the tag {node.tag} is not supported here", "remove the tag"
                )
            self.active.add(id(node))
            try:
                items = [
                    self.value(item, item.start_mark.line + 1, (*path, i))
                    for i, item in enumerate(node.value)
                ]
            finally:
                self.active.discard(id(node))
            return _Value(items, line)
        try:
            return _Value(self.constructor.construct_object(node, deep=True), line)
        except YAMLError as err:
            raise self.error(
                line, path, f"the tag {node.tag} is not supported", "remove the tag"
            ) from err

    def mapping(self, node: Any, path: _Path) -> dict[str, _Value]:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        out: dict[str, _Value] = {}
        lines: dict[str, int] = {}
        merged: list[Any] = []
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE_TAG:
                key = "<<"
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise self.error(
                            line,
                            path,
                            "a `<<` merge key needs a mapping or a list of mappings",
                            "write <<: *ANCHOR where &ANCHOR names a mapping",
                        )
                merged.extend(sources)
            elif isinstance(key_node, ScalarNode) and key_node.tag == "tag:yaml.org,2002:str":
                key = key_node.value
            else:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a list or mapping"
                raise self.error(
                    line,
                    path,
                    f"the key {shown} is not a string",
                    "write keys as plain names; quote a name that looks like a number",
                )
            if key in lines:
                raise self.error(
                    line,
                    (*path, key),
                    f"duplicate key: also on line {lines[key]}",
                    "keep one of the two; YAML keys must be unique in a mapping",
                )
            lines[key] = line
            if key != "<<":
                out[key] = self.value(value_node, line, (*path, key))
        for source in merged:  # explicit keys win, then the earlier merged mapping
            for key, value in self.value(source, source.start_mark.line + 1, path).data.items():
                out.setdefault(key, value)
        return out


def _toml_loads(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.S)
        if found:
            where, problem = f"{name}:{found[2]}", f"{found[1]} (column {found[3]})"
        elif message.endswith("(at end of document)"):
            where, problem = f"{name}:{text.count(chr(10)) + 1}", message
        else:
            where, problem = name, message
        raise ConfigError(
            f"{where}: not valid TOML: {problem}",
            hint="check the quotes, the `=` signs and the [table] headers",
        ) from err


def _toml_tree(text: str, name: str) -> _Value | None:
    tool = _toml_loads(text, name).get("tool")
    if not isinstance(tool, dict) or "gatekeeper" not in tool:
        return None
    lines = toml_key_lines(text)

    def line_of(path: _Path) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in lines:
                return lines[path[:end]]
        return None

    def convert(data: Any, path: _Path) -> _Value:
        if isinstance(data, dict):
            return _Value({k: convert(v, (*path, k)) for k, v in data.items()}, line_of(path))
        if isinstance(data, list):
            return _Value([convert(v, (*path, i)) for i, v in enumerate(data)], line_of(path))
        return _Value(data, line_of(path))

    return convert(tool["gatekeeper"], ("tool", "gatekeeper"))


_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_TOML_DOTTED = rf"{_TOML_KEY}(?:\s*\.\s*{_TOML_KEY})*"
_TOML_HEADER = re.compile(rf"\s*(\[\[?)\s*({_TOML_DOTTED})\s*\]")
_TOML_ASSIGN = re.compile(rf"\s*({_TOML_DOTTED})\s*=")


def toml_key_lines(text: str) -> dict[_Path, int]:
    """The line (1-based) of each key and table header in TOML ``text``, by key path.

    tomllib reports no positions, so this scans the text: ``[table]`` and ``[[array]]``
    headers (an array's entries get their index in the path) and ``key = value`` lines,
    dotted keys included. Best effort: a key inside an inline table or a multi-line array is
    found at its enclosing key's line, by looking up the longest known prefix of its path.
    """
    lines: dict[_Path, int] = {}
    arrays: dict[_Path, int] = {}
    table: _Path = ()
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if in_string is not None:  # inside a multi-line string: no keys here
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _TOML_HEADER.match(line)
        assign = None if header else _TOML_ASSIGN.match(line)
        if header is not None:
            keys = _toml_keys(header[2])
            if header[1] == "[[":
                arrays[keys] = arrays.get(keys, -1) + 1
                table = (*keys, arrays[keys])
            else:
                table = keys
            lines.setdefault(table, number)
        elif assign is not None:
            lines.setdefault((*table, *_toml_keys(assign[1])), number)
            rest = line[assign.end() :]
            for quotes in ('"""', "'''"):
                if rest.count(quotes) % 2 == 1:
                    in_string = quotes
    return lines


def _toml_keys(dotted: str) -> tuple[str, ...]:
    keys = []
    for part in re.findall(_TOML_KEY, dotted):
        if part[0] in "\"'":
            try:
                part = tomllib.loads(f"k = {part}")["k"]
            except tomllib.TOMLDecodeError:
                part = part[1:-1]
        keys.append(part)
    return tuple(keys)


# ---------------------------------------------------------------------------------------------
# The tree -> GateConfig, checked against rules.py's fields
# ---------------------------------------------------------------------------------------------


def _error(
    name: str, prefix: _Path, line: int | None, path: _Path, problem: str, hint: str | None
) -> ConfigError:
    where = name if line is None else f"{name}:{line}"
    key = key_path((*prefix, *path))
    return ConfigError(f"{where}: {key}: {problem}" if key else f"{where}: {problem}", hint=hint)


def key_path(path: _Path) -> str:
    """``("services", "api", "paths", 0)`` -> ``services.api.paths[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@cache
def _fields(cls: type) -> dict[str, Field[Any]]:
    return {f.name: f for f in fields(cls)}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (it, False)."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(get_args(tp))
    return tp, False


def _is_str_list(tp: Any) -> bool:
    return get_origin(tp) is tuple and get_args(tp) == (str, ...)


def is_percent(f: Field[Any]) -> bool:
    """A number documented in percent (or percentage points): it may be written ``"80%"``."""
    return "percent" in str(f.metadata.get("doc", ""))


def settable_keys(cls: type) -> list[str]:
    """The keys a file may set in a section read into ``cls`` (internal fields left out)."""
    return [f.name for f in fields(cls) if not f.metadata.get("internal")]


def value_description(cls: type, name: str) -> str:
    """What a key takes, in words: ``a percentage``, ```pass` or `fail```, ``a list of strings``.

    The same words serve the error messages ("expected ...") and docs/configuration.md."""
    f = _fields(cls)[name]
    tp, _ = _unwrap(_hints(cls)[name])
    choices = _CHOICES.get((cls, name))
    if choices is None and isinstance(tp, type) and issubclass(tp, Enum):
        choices = tuple(str(m.value) for m in tp)
    if choices is not None:
        quoted = [f"`{c}`" for c in choices]
        return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"
    if tp is bool:
        return "`true` or `false`"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a percentage" if is_percent(f) else "a number"
    if tp is str:
        return "a string"
    if _is_str_list(tp):
        return "a list of strings"
    if is_dataclass(tp):
        return "a mapping of keys"
    raise TypeError(f"{cls.__name__}.{name}: no reader for the type {tp}")  # pragma: no cover


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _describe(data: Any) -> str:
    """A value read from the file, as a message shows it: ``the string 'yes'``."""
    if data is None:
        return "null"
    if isinstance(data, bool):
        return str(data).lower()
    if isinstance(data, int | float):
        return f"the number {_number_text(data)}"
    if isinstance(data, str):
        return f"the string {data!r}"
    if isinstance(data, date | time):
        return f"the date {data.isoformat()}"
    if isinstance(data, list):
        return "a list"
    if isinstance(data, dict):
        return "a mapping"
    return repr(data)  # pragma: no cover - YAML and TOML make nothing else


def _closest(word: str, choices: list[str]) -> str | None:
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.7)
    return lowered[close[0]] if close else None


_PERCENT_TEXT = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*%\s*")
_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}


class _Builder:
    """Turns the tree of one file into a GateConfig; ``prefix`` is where the table sits."""

    def __init__(self, name: str, prefix: _Path) -> None:
        self.name = name
        self.prefix = prefix

    def error(self, line: int | None, path: _Path, problem: str, hint: str | None) -> ConfigError:
        return _error(self.name, self.prefix, line, path, problem, hint)

    def config(self, root: _Value | None) -> GateConfig:
        if root is None or root.data is None:
            return GateConfig()
        table = self.mapping(root, ())
        assert table is not None
        config = self.build(GateConfig, root, (), GateConfig(), skip={"benchmarks", "services"})
        benchmarks = table.get("benchmarks")
        if benchmarks is not None:
            config = replace(
                config,
                benchmarks=self.build(
                    BenchmarkRules,
                    benchmarks,
                    ("benchmarks",),
                    config.benchmarks,
                    skip={"overrides"},
                ),
            )
            inner = benchmarks.data if isinstance(benchmarks.data, dict) else {}
            if "overrides" in inner:
                config = replace(
                    config, benchmark_overrides=self.overrides(inner["overrides"], config)
                )
        if "services" in table:
            config = replace(config, services=self.services(table["services"], config))
        return config

    def mapping(self, value: _Value, path: _Path) -> dict[str, _Value] | None:
        if value.data is None:
            return None
        if not isinstance(value.data, dict):
            what = "a table" if self.prefix else "a mapping of keys"
            raise self.error(
                value.line,
                path,
                f"expected {what}, got {_describe(value.data)}",
                "write its keys below it, indented"
                if not self.prefix
                else "write it as a [table] or an inline table {key = value}",
            )
        return value.data

    def build(
        self,
        cls: type[_T],
        value: _Value,
        path: _Path,
        base: _T,
        *,
        skip: set[str] | frozenset[str] = frozenset(),
        in_service: bool = False,
        bases: Mapping[type, Any] | None = None,
        unlisted: frozenset[str] = frozenset(),
    ) -> _T:
        """``base`` with the keys of ``value`` (a mapping) set over it; ``unlisted`` keys are
        left out of the keys an unknown key's message suggests."""
        table = self.mapping(value, path)
        if table is None:  # an empty section: its keys all commented out
            return base
        known = _fields(cls)
        changes: dict[str, Any] = {}
        for key, item in table.items():
            here = (*path, key)
            if key in skip:
                continue
            not_here = _NOT_HERE.get((cls, key, in_service))
            if not_here is not None:
                raise self.error(item.line, here, *not_here)
            f = known.get(key)
            if f is None:
                choices = [
                    k
                    for k in dict.fromkeys([*settable_keys(cls), *sorted(skip)])
                    if (cls, k, in_service) not in _NOT_HERE
                    and k not in unlisted
                    and not (in_service and k in known and known[k].metadata.get("top_level_only"))
                ]
                close = _closest(key, choices)
                hint = (
                    f"did you mean `{close}`?"
                    if close
                    else "the keys here are " + ", ".join(choices)
                )
                raise self.error(item.line, here, "unknown key", hint)
            if f.metadata.get("internal"):
                raise self.error(
                    item.line,
                    here,
                    "set by gatekeeper, not by the configuration file",
                    "remove this line",
                )
            if in_service and f.metadata.get("top_level_only"):
                raise self.error(
                    item.line,
                    here,
                    f"`{key}` belongs in the top-level section only",
                    f"move it to the top-level {path[-1]} section",
                )
            changes[key] = self.field(cls, f, item, here, getattr(base, key), in_service, bases)
        return replace(base, **changes)

    def field(
        self,
        cls: type,
        f: Field[Any],
        value: _Value,
        path: _Path,
        current: Any,
        in_service: bool,
        bases: Mapping[type, Any] | None,
    ) -> Any:
        tp, optional = _unwrap(_hints(cls)[f.name])
        data = value.data
        if isinstance(tp, type) and is_dataclass(tp):
            if data is None:  # an empty section: as if it were not there
                return current
            base = (bases or {}).get(tp)
            if base is None:
                base = current if current is not None else tp()
            return self.build(tp, value, path, base, in_service=in_service)
        if data is None and _is_str_list(tp):
            return ()
        if optional and (data is None or (data is False and tp is not bool)):
            return None  # `null`; or `false`, which TOML (no null) needs to turn a check off
        if data is None:
            raise self.error(
                value.line,
                path,
                "null is not allowed here: this key cannot be turned off",
                f"write {value_description(cls, f.name)}, or remove the line for the default "
                f"({_default_text(f)})",
            )
        if tp is bool:
            return self.boolean(value, path)
        if tp is int or tp is float:
            return self.number(cls, f, value, path, whole=tp is int)
        if _is_str_list(tp):
            items = data if isinstance(data, list) else [value]
            if not isinstance(data, list | str):
                raise self.expected(cls, f, value, path, "or one string")
            return tuple(
                self.string(item, path if item is value else (*path, i))
                for i, item in enumerate(items)
            )
        text = self.string(value, path, expected=value_description(cls, f.name), quote=tp is str)
        choices = _CHOICES.get((cls, f.name))
        if isinstance(tp, type) and issubclass(tp, Enum):
            choices = tuple(str(m.value) for m in tp)
        if choices is not None and text not in choices:
            close = _closest(text, list(choices))
            raise self.error(
                value.line,
                path,
                f"expected {value_description(cls, f.name)}, got {_describe(text)}",
                f"did you mean `{close}`?" if close else f"write one of {', '.join(choices)}",
            )
        return tp(text) if isinstance(tp, type) and issubclass(tp, Enum) else text

    def expected(
        self, cls: type, f: Field[Any], value: _Value, path: _Path, extra: str = ""
    ) -> ConfigError:
        what = value_description(cls, f.name) + (f" {extra}" if extra else "")
        return self.error(value.line, path, f"expected {what}, got {_describe(value.data)}", None)

    def boolean(self, value: _Value, path: _Path) -> bool:
        data = value.data
        if isinstance(data, bool):
            return data
        hint = "write true or false"
        if isinstance(data, str) and data.lower() in _YAML11_BOOLEANS:
            hint += f"; YAML 1.2 reads {data} as a string, not as a boolean"
        raise self.error(
            value.line, path, f"expected `true` or `false`, got {_describe(data)}", hint
        )

    def number(
        self, cls: type, f: Field[Any], value: _Value, path: _Path, *, whole: bool
    ) -> int | float:
        data = value.data
        percent = is_percent(f)
        number: int | float
        if isinstance(data, str) and percent and _PERCENT_TEXT.fullmatch(data):
            number = float(_PERCENT_TEXT.fullmatch(data)[1])  # type: ignore[index]
        elif isinstance(data, int | float) and not isinstance(data, bool):
            number = data
        else:
            if isinstance(data, str) and re.fullmatch(r"\s*[-+]?[\d.]+(e[-+]?\d+)?\s*", data, re.I):
                hint = "remove the quotes"
            elif isinstance(data, str) and "%" in data:
                hint = f"write a plain number, e.g. {_default_text(f)}"
            else:
                hint = None
            raise self.error(
                value.line,
                path,
                f"expected {value_description(cls, f.name)}, got {_describe(data)}",
                hint,
            )
        if not math.isfinite(number):
            raise self.error(
                value.line,
                path,
                f"{_number_text(number)} is not a finite number",
                f"write {value_description(cls, f.name)}",
            )
        if whole:
            if isinstance(number, float) and not number.is_integer():
                raise self.error(
                    value.line,
                    path,
                    f"{_number_text(number)} is not a whole number",
                    f"write e.g. {round(number)}",
                )
            number = int(number)
        else:
            number = float(number)
        low, high = f.metadata.get("minimum"), f.metadata.get("maximum")
        span = f"write {value_description(cls, f.name)} {_range_text(f)}"
        if low is not None and number < low:
            raise self.error(
                value.line,
                path,
                f"{_number_text(number)} is below {_number_text(low)}",
                span,
            )
        if high is not None and number > high:
            raise self.error(
                value.line,
                path,
                f"{_number_text(number)} is above {_number_text(high)}",
                span,
            )
        return number

    def string(
        self, value: _Value, path: _Path, expected: str = "a string", *, quote: bool = True
    ) -> str:
        data = value.data
        if not isinstance(data, str):
            scalar = isinstance(data, int | float | bool | date | time)
            hint = "quote it to make it a string" if quote and scalar else None
            raise self.error(value.line, path, f"expected {expected}, got {_describe(data)}", hint)
        if not data.strip():
            raise self.error(
                value.line, path, "the value is empty", "write a value or remove the line"
            )
        return data

    def overrides(self, value: _Value, config: GateConfig) -> tuple[BenchmarkOverride, ...]:
        path: _Path = ("benchmarks", "overrides")
        if value.data is None:
            return ()
        if not isinstance(value.data, list):
            raise self.error(
                value.line,
                path,
                f"expected a list of entries, got {_describe(value.data)}",
                "write overrides: [{name: GLOB, max_regression: 30}, ...]; the first match wins",
            )
        out: list[BenchmarkOverride] = []
        seen: dict[str, int] = {}
        name_field = _fields(BenchmarkOverride)["name"]
        for i, item in enumerate(value.data):
            here = (*path, i)
            table = self.mapping(item, here) or {}
            if "name" not in table:
                raise self.error(
                    item.line, here, "has no name", "add name: GLOB, e.g. name: parse/*"
                )
            name = self.field(
                BenchmarkOverride, name_field, table["name"], (*here, "name"), None, False, None
            )
            if name in seen:
                raise self.error(
                    table["name"].line,
                    (*here, "name"),
                    f"{name!r} repeats benchmarks.overrides[{seen[name]}]: the first match wins, "
                    "so this entry never applies",
                    "merge the two entries",
                )
            seen[name] = i
            if "common_shift" in table:
                raise self.error(
                    table["common_shift"].line,
                    (*here, "common_shift"),
                    "`common_shift` is about a whole run, not single benchmarks",
                    "move it to benchmarks or services.NAME.benchmarks",
                )
            rules = self.build(
                BenchmarkRules,
                item,
                here,
                config.benchmarks,
                skip={"name"},
                unlisted=frozenset({"common_shift"}),
            )
            out.append(BenchmarkOverride(name=name, rules=rules))
        return tuple(out)

    def services(self, value: _Value, config: GateConfig) -> tuple[ServiceConfig, ...]:
        path: _Path = ("services",)
        if isinstance(value.data, list):
            raise self.error(
                value.line,
                path,
                "expected a mapping of service names, got a list",
                "write services: {NAME: {paths: [...]}}; the name is the key",
            )
        table = self.mapping(value, path)
        if table is None:
            return ()
        bases = {
            # a service's coverage merges over the global one; its `line` defaults to the
            # global `service_line`
            CoverageRules: replace(config.coverage, line=config.coverage.service_line),
            BenchmarkRules: config.benchmarks,
            TestRules: config.tests,
        }
        out = []
        for name, item in table.items():
            if not name.strip():
                raise self.error(item.line, path, "a service name is empty", "name the service")
            out.append(
                self.build(
                    ServiceConfig,
                    item,
                    (*path, name),
                    ServiceConfig(name=name),
                    in_service=True,
                    bases=bases,
                )
            )
        return tuple(out)


def _default_text(f: Field[Any]) -> str:
    """A field's default as the file writes it."""
    if f.default is MISSING:
        return "none"
    return yaml_scalar(f.default)


def yaml_scalar(value: Any) -> str:
    """A default value as YAML writes it: ``80``, ``null``, ``false``, ``[]``, ``pass``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(yaml_scalar(v) for v in value) + "]"
    return str(value)


def _range_text(f: Field[Any]) -> str:
    low, high = f.metadata.get("minimum"), f.metadata.get("maximum")
    if low is not None and high is not None:
        return f"from {_number_text(low)} to {_number_text(high)}"
    if low is not None:
        return f"of at least {_number_text(low)}"
    if high is not None:
        return f"of at most {_number_text(high)}"
    return ""
