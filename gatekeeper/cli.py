"""The typer shell: options -> Settings -> one API call -> an emitter -> an exit code."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from gatekeeper.errors import EXIT_CANNOT_DECIDE, EXIT_GATE_FAILED, ConfigError, GatekeeperError
from gatekeeper.formats import FORMATS

if TYPE_CHECKING:
    from gatekeeper.api import ClassifyOutcome, Gatekeeper, MetaFlags, Output, Progress
    from gatekeeper.client import Client
    from gatekeeper.model import GateDecision, IngestOutcome
    from gatekeeper.rules import GateConfig

T = TypeVar("T")

app = typer.Typer(
    name="gatekeeper",
    help="A quality gate for CI: test, coverage and benchmark history, flaky-test quarantine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="History database URL (default: $GATEKEEPER_DB, else "
        "sqlite:///.gatekeeper/gatekeeper.db). postgresql://user@host/db for a team.",
        show_default=False,
    ),
]
LockTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--lock-timeout",
        help="Seconds to wait for a SQLite file another process is writing (default 30).",
        show_default=False,
    ),
]


ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Ask a gatekeeper server (gatekeeper serve) instead of a database, with the token "
        "in $GATEKEEPER_TOKEN (default: $GATEKEEPER_SERVER). See docs/service.md.",
        show_default=False,
        metavar="URL",
    ),
]


def _client(
    server: str | None,
    *,
    db: str | None,
    lock_timeout: float | None = None,
    local: dict[str, bool] | None = None,
) -> Client | None:
    """The server to ask (``--server``, else ``$GATEKEEPER_SERVER``), or None for the
    database. ``local`` names the options given that only a local run reads (the server uses
    its own configuration and registry): with a server they are an error, not ignored."""
    if server is None and "GATEKEEPER_SERVER" not in os.environ:
        return None  # no server: httpx is not even imported
    from gatekeeper.client import Client, server_url, settings_from

    url = server_url(server, os.environ)
    if url is None:
        return None
    settings = settings_from(url, os.environ)
    given = {"--db": db is not None, "--lock-timeout": lock_timeout is not None, **(local or {})}
    clash = [name for name, is_given in given.items() if is_given]
    if clash:
        where = "--server" if server is not None else "$GATEKEEPER_SERVER"
        raise ConfigError(
            f"{', '.join(clash)}: cannot be combined with a server ({where} {settings.shown})",
            hint="the server uses its own database, configuration and registry: leave out "
            f"{', '.join(clash)}, or drop --server and unset GATEKEEPER_SERVER to work locally",
        )
    client = Client(settings)
    if client.plain_http_to_remote:
        _warn(
            f"{client.settings.shown}: the token travels unencrypted over http://; use https:// "
            "(docs/service.md#tls-behind-a-reverse-proxy)"
        )
    return client


def _preparer(service: str | None) -> Gatekeeper:
    """A Gatekeeper that never opens a database: it finds the reports and resolves the run's
    metadata (CI, git) on this machine, for a server that cannot."""
    from gatekeeper.api import Gatekeeper
    from gatekeeper.config import resolve

    env = {
        k: v for k, v in os.environ.items() if k not in ("GATEKEEPER_DB", "GATEKEEPER_LOCK_TIMEOUT")
    }
    return Gatekeeper(resolve(env, service=service))


def _gatekeeper(
    db: str | None, lock_timeout: float | None = None, service: str | None = None
) -> Gatekeeper:
    from gatekeeper.api import Gatekeeper
    from gatekeeper.config import resolve

    return Gatekeeper(resolve(os.environ, db=db, lock_timeout=lock_timeout, service=service))


def _known_service(
    service: str | None, config: Path | None = None, found: GateConfig | None = None
) -> GateConfig:
    """The configuration (``found``, else read), after checking that --service (or
    $GATEKEEPER_SERVICE) names one of its services when it lists any."""
    from gatekeeper.api import check_service, load_config

    found = found or load_config(Path.cwd(), os.environ, config)
    if service is not None:
        check_service(found, service)
    elif os.environ.get("GATEKEEPER_SERVICE"):
        check_service(found, os.environ["GATEKEEPER_SERVICE"], "$GATEKEEPER_SERVICE")
    return found


def _unnamed_service(config: GateConfig, service: str | None, stored_under: str) -> None:
    from gatekeeper.api import unnamed_service_note

    if service is None and not os.environ.get("GATEKEEPER_SERVICE"):
        note = unnamed_service_note(config, stored_under)
        if note:
            _warn(note)


def _no_commit(service: str, run_id: str, commit: str | None, branch: str | None) -> None:
    from gatekeeper.api import no_commit_warning

    note = no_commit_warning(service, run_id, commit, branch)
    if note:
        _warn(note)


def _warn(message: str) -> None:
    from gatekeeper.emit.safe import line  # names in a warning are data: shown escaped

    typer.echo(f"warning: {line(message)}", err=True)


def _print(out: Output) -> None:
    """A listing: its warnings on stderr, its text on stdout (the service sends the same)."""
    for w in out.warnings:
        _warn(w)
    typer.echo(out.text, nl=False)


# The run's metadata, as `ingest` and `gate` take it (each falls back to the CI, then git).
ServiceOption = Annotated[str | None, typer.Option(help="Service the run belongs to.")]
CommitOption = Annotated[str | None, typer.Option(help="Commit SHA (default: from CI, else git).")]
BranchOption = Annotated[str | None, typer.Option(help="Branch (default: from CI, else git).")]
RunIdOption = Annotated[
    str | None,
    typer.Option("--run-id", help="CI run id (default: from CI, else derived from the files)."),
]
AttemptOption = Annotated[
    int | None,
    typer.Option(help="Attempt of the run, 1 for the first (default: from CI, else 1)."),
]
TimestampOption = Annotated[
    str | None, typer.Option(help="When the run happened, ISO 8601 (default: now).")
]


@app.command()
def ingest(
    reports: Annotated[
        list[str] | None,
        typer.Argument(
            help="Report files, globs ('reports/**/*.xml') or folders.", show_default=False
        ),
    ] = None,
    service: ServiceOption = None,
    commit: CommitOption = None,
    branch: BranchOption = None,
    run_id: RunIdOption = None,
    attempt: AttemptOption = None,
    timestamp: TimestampOption = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="Report format, or auto to detect it from each file's content: "
            + ", ".join(("auto", *FORMATS))
            + ".",
        ),
    ] = "auto",
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="Backfill from a JSONL manifest (one report per line; see docs/ingest.md)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per run.")] = False,
    db: DbOption = None,
    lock_timeout: LockTimeoutOption = None,
    server: ServerOption = None,
) -> None:
    """Store the reports of a CI run in the history (idempotent on service, run id, attempt)."""
    from gatekeeper.api import MetaFlags, parse_timestamp
    from gatekeeper.emit.ingest import json_object, summary_line, total_line

    if manifest is not None:
        given = {
            "report paths": bool(reports),
            "--service": service is not None,
            "--commit": commit is not None,
            "--branch": branch is not None,
            "--run-id": run_id is not None,
            "--attempt": attempt is not None,
            "--timestamp": timestamp is not None,
            "--format": fmt != "auto",
        }
        clash = [name for name, is_given in given.items() if is_given]
        if clash:
            raise ConfigError(
                f"--manifest: {', '.join(clash)} cannot be combined with a manifest",
                hint="each manifest line gives its own path, service, commit, branch, "
                "run_id, timestamp, attempt and format",
            )
    flags = MetaFlags(
        service=service,
        commit=commit,
        branch=branch,
        run_id=run_id,
        attempt=attempt,
        timestamp=parse_timestamp(timestamp, "--timestamp") if timestamp else None,
    )
    remote = _client(server, db=db, lock_timeout=lock_timeout)
    if remote is not None:
        with remote:
            outcomes = _remote_ingest(remote, reports or [], flags, fmt, manifest)
    else:
        configured = _known_service(service)
        gk = _gatekeeper(db, lock_timeout, service)
        try:
            if manifest is not None:
                outcomes = _with_progress(lambda p: gk.ingest_manifest(manifest, p), "ingesting")
            else:
                outcomes = gk.ingest(reports or [], flags, fmt)
        finally:
            gk.close()
    for o in outcomes:
        for w in o.warnings:
            _warn(w)
        if manifest is None:
            _no_commit(o.meta.service, o.meta.run_id, o.meta.commit, o.meta.branch)
        if remote is None and manifest is None:
            _unnamed_service(configured, service, o.meta.service)
        typer.echo(json.dumps(json_object(o)) if as_json else summary_line(o))
    if len(outcomes) > 1 and not as_json:
        typer.echo(total_line(outcomes))


def _remote_ingest(
    remote: Client, reports: list[str], flags: MetaFlags, fmt: str, manifest: Path | None
) -> list[IngestOutcome]:
    """``ingest --server``: the runs are found and described here, stored by the server; a
    manifest's runs one request each (a failed one leaves the earlier ones stored: run the
    same command again, it stores nothing twice)."""
    preparer = _preparer(flags.service)
    if manifest is None:
        return [remote.ingest(preparer.outgoing_run(reports, flags, fmt))]
    runs = preparer.outgoing_manifest(manifest)

    def send(progress: Progress | None) -> list[IngestOutcome]:
        done = []
        for run in runs:
            done.append(remote.ingest(run))
            if progress:
                progress(len(done), len(runs))
        return done

    return _with_progress(send, "uploading")


def _with_progress(work: Callable[[Progress | None], T], label: str) -> T:
    """Run ``work(progress_callback)`` with a progress bar when stderr is a terminal."""
    if not sys.stderr.isatty():
        return work(None)
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
    from rich.progress import Progress as ProgressBar

    with ProgressBar(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=None,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return work(update)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The configuration file (default: $GATEKEEPER_CONFIG, else gatekeeper.yml or "
        "pyproject.toml [tool.gatekeeper] here or in a parent folder).",
        show_default=False,
    ),
]


@app.command()
def gate(
    reports: Annotated[
        list[str] | None,
        typer.Argument(
            help="This run's report files, globs or folders: tests, coverage, benchmarks.",
            show_default=False,
        ),
    ] = None,
    service: ServiceOption = None,
    commit: CommitOption = None,
    branch: BranchOption = None,
    run_id: RunIdOption = None,
    attempt: AttemptOption = None,
    timestamp: TimestampOption = None,
    report_format: Annotated[
        str,
        typer.Option(
            "--report-format",
            help="Format of the reports, or auto to detect each from its content.",
        ),
    ] = "auto",
    out_format: Annotated[
        str, typer.Option("--format", help="Output: text (the verdict) or json.")
    ] = "text",
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            help="Git ref to judge patch coverage against (e.g. origin/main): the lines "
            "changed since it must be covered.",
            show_default=False,
        ),
    ] = None,
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            help="Write a Markdown summary here (default: append to $GITHUB_STEP_SUMMARY when "
            "it is set).",
            show_default=False,
        ),
    ] = None,
    annotations: Annotated[
        bool | None,
        typer.Option(
            "--annotations/--no-annotations",
            help="Print GitHub Actions annotations for failed tests (default: when running "
            "in GitHub Actions).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="The registry file (default: $GATEKEEPER_REGISTRY, else the configuration's "
            "registry, else flaky-tests.yml here).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    lock_timeout: LockTimeoutOption = None,
    server: ServerOption = None,
) -> None:
    """Store this run's reports, then decide: exit 0 (pass), 1 (gate failed), 2 (could not
    decide). Fails on unquarantined test failures, coverage below thresholds, benchmark
    regressions. With --server, the server stores the run and decides, with its own
    configuration and registry."""
    from gatekeeper.api import MetaFlags, config_and_registry, parse_timestamp
    from gatekeeper.emit import gate as emit_gate

    if out_format not in ("text", "json"):
        raise ConfigError(f"--format {out_format}: not a gate output", hint="choose text or json")
    summary_path = summary or (
        Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    )
    annotate = (
        annotations if annotations is not None else os.environ.get("GITHUB_ACTIONS") == "true"
    )
    try:
        flags = MetaFlags(
            service=service,
            commit=commit,
            branch=branch,
            run_id=run_id,
            attempt=attempt,
            timestamp=parse_timestamp(timestamp, "--timestamp") if timestamp else None,
        )
        remote = _client(
            server,
            db=db,
            lock_timeout=lock_timeout,
            local={"--config": config is not None, "--registry": registry is not None},
        )
        if remote is not None:
            with remote:
                decision = _remote_gate(remote, reports or [], flags, report_format, base)
        else:
            settings_config, path, missing_ok = config_and_registry(
                Path.cwd(), os.environ, config, registry
            )
            _known_service(service, found=settings_config)
            gk = _gatekeeper(db, lock_timeout, service)
            try:
                decision = gk.gate(
                    reports or [],
                    flags,
                    report_format,
                    config=settings_config,
                    registry_path=path,
                    registry_missing_ok=missing_ok,
                    base_ref=base,
                )
            finally:
                gk.close()
    except GatekeeperError as err:
        # could not decide: still say so in every channel the job reads, and never pass
        if out_format == "json":
            typer.echo(json.dumps(emit_gate.error_object(str(err), "gate", err.exit_code)))
        if summary_path is not None:
            _write_summary(summary_path, emit_gate.error_markdown(str(err)), append=summary is None)
        raise
    _no_commit(decision.service, decision.run_id, decision.commit, decision.branch)
    if remote is None:
        _unnamed_service(settings_config, service, decision.service)
    if annotate:
        for line in emit_gate.github_annotations(decision):
            typer.echo(line, err=out_format == "json")
    if out_format == "json":
        typer.echo(json.dumps(emit_gate.json_object(decision), indent=2))
    else:
        typer.echo(emit_gate.terminal(decision), nl=False)
    if summary_path is not None:
        _write_summary(summary_path, emit_gate.markdown(decision), append=summary is None)
    if not decision.passed:
        raise typer.Exit(EXIT_GATE_FAILED)


def _remote_gate(
    remote: Client, reports: list[str], flags: MetaFlags, fmt: str, base: str | None
) -> GateDecision:
    """``gate --server``: the run and, with --base, the lines this checkout's `git diff`
    changed go to the server, which stores the run and decides; the decision comes back."""
    preparer = _preparer(flags.service)
    run = preparer.outgoing_run(reports, flags, fmt)
    changed = preparer.changed_lines(base) if base else None
    return remote.gate(run, base_ref=base, changed=changed, repo_root=preparer.repo_root())


def _write_summary(path: Path, text: str, *, append: bool) -> None:
    try:
        with path.open("a" if append else "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    except OSError as err:
        _warn(f"{path}: cannot write the summary ({err.strerror})")


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option("--dir", help="Where the demo's fresh database is written.")
    ] = Path(".gatekeeper/demo"),
    db: Annotated[
        str | None,
        typer.Option("--db", help="Use this database instead of a fresh SQLite file in --dir."),
    ] = None,
) -> None:
    """Ingest the bundled sample_reports/ into a fresh database, summarise the history, and
    classify its tests into a fresh registry (DIR/flaky-tests.yml)."""
    from gatekeeper.api import (
        classify_into_registry,
        fresh_demo_registry,
        fresh_sqlite_url,
        quarantine_view,
        sample_reports_dir,
    )
    from gatekeeper.emit.demo import render_summary
    from gatekeeper.emit.quarantine import table

    manifest = sample_reports_dir() / "manifest.jsonl"
    gk = _gatekeeper(db or fresh_sqlite_url(workdir))
    registry = fresh_demo_registry(workdir)
    try:
        typer.echo(f"Ingesting the sample history ({manifest}) into {gk.settings.db_url} ...")
        started = datetime.now()
        outcomes = _with_progress(lambda p: gk.ingest_manifest(manifest, p), "ingesting")
        elapsed = (datetime.now() - started).total_seconds()
        stored = sum(1 for o in outcomes if o.stored)
        typer.echo(f"Stored {stored} runs in {elapsed:.1f}s.\n")
        typer.echo(render_summary(gk.history_summary()))
        typer.echo(f"Classifying every test into a new quarantine registry, {registry} ...")
        # the day of the history's last run stands for "today", so the demo prints the same
        # registry whenever it runs
        stamps = [o.meta.timestamp for o in outcomes if o.meta.timestamp]
        day = max(stamps).date() if stamps else None
        # the owners from the sample monorepo's CODEOWNERS (sample_reports/repository/)
        done = classify_into_registry(
            gk, registry, True, today=day, owners_root=sample_reports_dir() / "repository"
        )
        _echo_classify(done, registry.name, dry_run=False)
        typer.echo(f"\n$ gatekeeper quarantine list --registry {registry}")
        view = quarantine_view(registry, False, today=day)
        typer.echo(table(view.entries, view.expired), nl=False)
        _demo_gate(gk, registry, workdir)
        _demo_report(gk, registry, workdir)
    finally:
        gk.close()


def _demo_report(gk: Gatekeeper, registry: Path, workdir: Path) -> None:
    """The demo's very last step: the weekly report of the week that ends with the next push,
    as the one self-contained HTML page a team lead opens."""
    from datetime import timedelta

    from gatekeeper.api import demo_next_push, sample_reports_dir
    from gatekeeper.emit.report import render

    push = demo_next_push()
    assert push.flags.timestamp is not None
    until = datetime.combine(push.flags.timestamp.date() + timedelta(days=1), datetime.min.time())
    until = until.replace(tzinfo=push.flags.timestamp.tzinfo)
    since = until - timedelta(days=7)
    weekly = gk.report(
        since=since,
        until=until,
        registry_path=registry,
        registry_missing_ok=False,
        config=push.config,
        now=until,
        owners_root=sample_reports_dir() / "repository",
    )
    page = workdir / "report.html"
    page.write_text(render(weekly, "html"), encoding="utf-8")
    typer.echo(
        f"\nThe weekly report for {since:%Y-%m-%d} to {until - timedelta(days=1):%Y-%m-%d} "
        f"(gatekeeper report --since {since:%Y-%m-%d} --until {until:%Y-%m-%d} --format html) "
        f"is in {page}: open it in a browser."
    )


def _demo_gate(gk: Gatekeeper, registry: Path, workdir: Path) -> None:
    """The demo's last step: the gate on the next push (sample_reports/next/, not in the
    history), with the sample configuration and the registry classify just wrote."""
    from gatekeeper.api import demo_next_push
    from gatekeeper.emit.gate import json_object, markdown, terminal

    push = demo_next_push()
    typer.echo(
        f"\nThe next push to main arrives. $ gatekeeper gate {push.shown} --config "
        f"{push.config_shown} --registry {registry} {push.flags_shown}"
    )
    decision = gk.gate(
        [str(push.reports)],
        push.flags,
        config=push.config,
        registry_path=registry,
        registry_missing_ok=False,
        today=push.day,
    )
    typer.echo(terminal(decision), nl=False)
    verdict = "would fail the build (exit 1)" if not decision.passed else "passes (exit 0)"
    as_json = workdir / "gate.json"
    as_json.write_text(json.dumps(json_object(decision), indent=2) + "\n", encoding="utf-8")
    summary = workdir / "gate-summary.md"
    summary.write_text(markdown(decision), encoding="utf-8")
    typer.echo(
        f"\nThe gate {verdict}; see docs/gate.md for how it decides. Its --format json output "
        f"is in {as_json}, the Markdown summary a CI job page shows in {summary}."
    )


@app.command()
def classify(
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="The registry file (default: $GATEKEEPER_REGISTRY, else the configuration's "
            "registry, else flaky-tests.yml here).",
            show_default=False,
        ),
    ] = None,
    service: Annotated[str | None, typer.Option(help="Only this service's tests.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the diff of the registry; write nothing.")
    ] = False,
    allow_mass_quarantine: Annotated[
        bool,
        typer.Option(
            "--allow-mass-quarantine",
            help="Write the new quarantines of a service even when they are more than "
            "classify.max_new_quarantine_share of its tests (normally: nothing is written for "
            "it, exit 2, naming the runs that drove them).",
        ),
    ] = False,
    config: ConfigOption = None,
    db: DbOption = None,
    lock_timeout: LockTimeoutOption = None,
    server: ServerOption = None,
) -> None:
    """Classify every test from the history and update the quarantine registry. With
    --server, the server classifies its history into this registry file, written here."""
    from gatekeeper.api import (
        classify_into_registry,
        load_config,
        read_registry_file,
        refuse,
        registry_lock_timeout,
        write_registry_text,
    )

    path, missing_ok = _registry(registry, config)
    remote = _client(server, db=db, lock_timeout=lock_timeout)
    if remote is not None:
        sent = read_registry_file(path, missing_ok)
        with remote:
            answer = remote.classify(
                sent,
                str(path),
                service=service,
                dry_run=dry_run,
                allow_mass_quarantine=allow_mass_quarantine,
            )
        if dry_run and answer.diff:
            typer.echo(answer.diff, nl=False)
        if answer.changed and not dry_run:
            assert answer.registry is not None  # the client checks the answer
            write_registry_text(
                path, sent, answer.registry, lock_timeout=registry_lock_timeout(os.environ)
            )
        typer.echo(answer.report, nl=False)
        refuse(answer.refused)
        return
    gk = _gatekeeper(db, lock_timeout)
    try:
        settings = _known_service(service, found=load_config(Path.cwd(), os.environ, config))
        outcome = classify_into_registry(
            gk,
            path,
            missing_ok,
            service=service,
            dry_run=dry_run,
            default_branch=settings.default_branch,
            max_new_share=settings.classify.max_new_quarantine_share,
            allow_mass=allow_mass_quarantine,
        )
    finally:
        gk.close()
    if dry_run and outcome.diff:
        typer.echo(outcome.diff, nl=False)
    _echo_classify(outcome, outcome.path, dry_run=dry_run)
    outcome.check_refused()


def _echo_classify(outcome: ClassifyOutcome, name: str, *, dry_run: bool) -> None:
    from gatekeeper.emit.classify import report

    text = report(
        name,
        outcome.verdicts,
        outcome.bursts,
        outcome.changes,
        written=outcome.written,
        dry_run=dry_run,
    )
    typer.echo(text, nl=False)


@app.command("skip-list")
def skip_list(
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="cargo (args after `cargo test --`), nextest (a filterset for -E), pytest "
            "(--deselect args), gotest (a regexp for -skip), text (one id a line) or json. "
            "Default: the service's `runner` in the configuration, else text.",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(help="Only this service's tests (required by the runner formats)."),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="The registry file (default: $GATEKEEPER_REGISTRY, else the configuration's "
            "registry, else flaky-tests.yml here).",
            show_default=False,
        ),
    ] = None,
    server: ServerOption = None,
) -> None:
    """Print the quarantined tests in the form a test runner takes."""
    from gatekeeper.api import skip_list_output

    remote = _client(server, db=None, local={"--registry": registry is not None})
    if remote is not None:
        with remote:
            _print(remote.skip_list(fmt=fmt or "text", service=service))
        return
    path, missing_ok = _registry(registry)
    found = _known_service(service)
    configured = found.service(service) if service else None
    fmt = fmt or (configured.runner if configured else None) or "text"
    _print(skip_list_output(path, missing_ok, fmt=fmt, service=service))


quarantine_app = typer.Typer(
    help="The quarantine registry (flaky-tests.yml): list, add and remove quarantined tests, "
    "file a ticket for one.",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")

RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry",
        help="The registry file (default: $GATEKEEPER_REGISTRY, else the configuration's "
        "registry, else flaky-tests.yml here).",
        show_default=False,
    ),
]


def _registry(flag: str | None, config: Path | None = None) -> tuple[Path, bool]:
    """The registry: --registry, else $GATEKEEPER_REGISTRY, else the configuration's
    `registry` (gatekeeper.yml or [tool.gatekeeper], found from here), else flaky-tests.yml."""
    from gatekeeper.api import config_and_registry, registry_location

    if flag or os.environ.get("GATEKEEPER_REGISTRY"):
        return registry_location(flag, os.environ, Path.cwd())
    return config_and_registry(Path.cwd(), os.environ, config, flag)[1:]


@quarantine_app.command("list")
def quarantine_list(
    service: Annotated[str | None, typer.Option(help="Only this service's tests.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or yaml.")] = "table",
    include_released: Annotated[
        bool, typer.Option("--all", help="Also list released entries.")
    ] = False,
    registry: RegistryOption = None,
    server: ServerOption = None,
) -> None:
    """The quarantined tests, read from the registry file alone (fast; no database)."""
    from gatekeeper.api import quarantine_list_output

    remote = _client(server, db=None, local={"--registry": registry is not None})
    if remote is not None:
        with remote:
            _print(
                remote.quarantine_list(fmt=fmt, service=service, include_released=include_released)
            )
        return
    path, missing_ok = _registry(registry)
    _known_service(service)
    _print(
        quarantine_list_output(
            path, missing_ok, fmt=fmt, service=service, include_released=include_released
        )
    )


@quarantine_app.command("show")
def quarantine_show(
    name: Annotated[str, typer.Argument(help="The test id.")],
    service: Annotated[
        str | None, typer.Option(help="The test's service (needed when several have it).")
    ] = None,
    runs: Annotated[int, typer.Option(help="How many recent runs to show.")] = 30,
    registry: RegistryOption = None,
    db: DbOption = None,
) -> None:
    """A test's registry entry and evidence, and its pass/fail history run by run."""
    from gatekeeper import api
    from gatekeeper.emit.quarantine import show

    path, missing_ok = _registry(registry)
    _known_service(service)
    gk = _gatekeeper(db)
    try:
        d = api.quarantine_show(gk, path, missing_ok, name=name, service=service, runs=runs)
    finally:
        gk.close()
    typer.echo(show(d.name, d.service, d.entry, d.history), nl=False)


@quarantine_app.command("add")
def quarantine_add(
    name: Annotated[str, typer.Argument(help="The test id, as in docs/test-ids.md.")],
    service: Annotated[str, typer.Option(help="The test's service.")],
    reason: Annotated[str, typer.Option(help="Why it is quarantined (for the reviewer).")],
    issue: Annotated[str | None, typer.Option(help="The tracking issue, e.g. #1234.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who will fix it.")] = None,
    expires: Annotated[
        str | None, typer.Option(help="When the quarantine ends, YYYY-MM-DD.")
    ] = None,
    registry: RegistryOption = None,
) -> None:
    """Quarantine a test by hand. A manual entry is pinned: classify never releases it."""
    from gatekeeper import api
    from gatekeeper.emit.safe import line as safe_line

    path, missing_ok = _registry(registry)
    _known_service(service)
    until = api.parse_date(expires, "--expires") if expires else None
    api.quarantine_add(
        path, missing_ok, name=name, service=service, reason=reason, issue=issue, owner=owner,
        expires=until, lock_timeout=api.registry_lock_timeout(os.environ),
    )  # fmt: skip
    typer.echo(safe_line(f"{name} in {service}: quarantined (pinned) in {path.name}"))


@quarantine_app.command("remove")
def quarantine_remove(
    name: Annotated[str, typer.Argument(help="The test id.")],
    service: Annotated[str, typer.Option(help="The test's service.")],
    registry: RegistryOption = None,
) -> None:
    """Take a test out of the registry (its next failure fails the gate again)."""
    from gatekeeper import api
    from gatekeeper.emit.safe import line as safe_line

    path, missing_ok = _registry(registry)
    _known_service(service)
    api.quarantine_remove(
        path, missing_ok, name=name, service=service,
        lock_timeout=api.registry_lock_timeout(os.environ),
    )  # fmt: skip
    typer.echo(safe_line(f"{name} in {service}: removed from {path.name}"))


@quarantine_app.command("ticket")
def quarantine_ticket(
    name: Annotated[str, typer.Argument(help="The test id.")],
    service: Annotated[
        str | None, typer.Option(help="The test's service (needed when several have it).")
    ] = None,
    create: Annotated[
        bool,
        typer.Option(
            "--create",
            help="File the issue on GitHub ($GITHUB_TOKEN, $GITHUB_REPOSITORY) or GitLab "
            "($GATEKEEPER_GITLAB_TOKEN, $CI_API_V4_URL, $CI_PROJECT_ID) and write its number "
            "into the entry's issue field; exit 3 without a token.",
        ),
    ] = False,
    runs: Annotated[int, typer.Option(help="How many recent runs the issue shows.")] = 30,
    registry: RegistryOption = None,
    db: DbOption = None,
) -> None:
    """The issue for a quarantined test, as Markdown: evidence, failures, runs, owner, and
    the registry lines to remove when it is fixed. --create files it (once)."""
    from gatekeeper import api
    from gatekeeper.emit.safe import block
    from gatekeeper.emit.safe import line as safe_line

    path, missing_ok = _registry(registry)
    _known_service(service)
    gk = _gatekeeper(db)
    try:
        done = api.quarantine_ticket(
            gk, path, missing_ok, name=name, service=service, create=create, runs=runs
        )
    finally:
        gk.close()
    t = done.ticket
    where = f"{t.name} in {t.service}"
    if not create:
        typer.echo(block(f"# {t.title}\n\n{t.body}"), nl=False)
    elif done.filed is None or done.existing:
        typer.echo(safe_line(f"{where}: already has issue {done.existing}; nothing filed"))
    elif done.filed.created:
        typer.echo(safe_line(f"{where}: filed {done.filed.reference} {done.filed.url}"))
    else:
        typer.echo(
            safe_line(
                f"{where}: the open issue {done.filed.reference} {done.filed.url} has its "
                f"title; written to {path.name}, nothing filed"
            )
        )


@app.command()
def prune(
    keep_days: Annotated[
        int | None,
        typer.Option(
            "--keep-days",
            min=1,
            help="Delete the runs older than this many days (default: the configuration's "
            "history.keep_days).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")
    ] = False,
    config: ConfigOption = None,
    db: DbOption = None,
    lock_timeout: LockTimeoutOption = None,
) -> None:
    """Delete old runs from the history, in short transactions, keeping the runs the gate
    reads as baselines (docs/retention.md). Safe to run while CI uploads."""
    from gatekeeper.api import load_config

    settings = load_config(Path.cwd(), os.environ, config)
    gk = _gatekeeper(db, lock_timeout)
    try:
        done = _with_progress(
            lambda p: gk.prune(settings, keep_days=keep_days, dry_run=dry_run, progress=p),
            "pruning",
        )
    finally:
        gk.close()
    verb = "would delete" if done.dry_run else "deleted"
    typer.echo(
        f"prune: {verb} {done.runs:,} run(s) with {done.results:,} test result(s) from before "
        f"{done.before:%Y-%m-%d %H:%M} UTC; kept {done.kept:,} as old run(s) the gate reads as "
        "baselines"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every one).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    db: DbOption = None,
    config: ConfigOption = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="The registry file the gate and the lists read (default: $GATEKEEPER_REGISTRY, "
            "else the configuration's registry, else flaky-tests.yml here).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (uvicorn --workers).")] = 1,
    max_file_mb: Annotated[
        float | None,
        typer.Option(
            "--max-file-mb",
            help="Largest report file an upload may hold, MiB (default: "
            "$GATEKEEPER_MAX_FILE_MB, else 50).",
            show_default=False,
        ),
    ] = None,
    max_request_mb: Annotated[
        float | None,
        typer.Option(
            "--max-request-mb",
            help="Largest upload request, all files together, MiB (default: "
            "$GATEKEEPER_MAX_REQUEST_MB, else 200).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="critical, error, warning, info or debug.")
    ] = "info",
) -> None:
    """Run the HTTP API (docs/service.md): uploads, the gate, quarantine and skip lists, with
    bearer tokens. Stateless: run several side by side on one PostgreSQL database."""
    from gatekeeper.service.server import serve as run_server

    run_server(
        host=host,
        port=port,
        db=db,
        config=config,
        registry=registry,
        workers=workers,
        max_file_mb=max_file_mb,
        max_request_mb=max_request_mb,
        log_level=log_level,
    )


token_app = typer.Typer(
    help="API tokens of gatekeeper serve: create, list and revoke them (in the database).",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who uses it, e.g. ci-user-service (unique).")],
    scope: Annotated[
        str,
        typer.Option(
            help="read (lists, history, metrics), upload (also uploads and the gate) or admin "
            "(also tokens)."
        ),
    ],
    db: DbOption = None,
) -> None:
    """Make a token and print it, once: only its hash is stored."""
    gk = _gatekeeper(db)
    try:
        token, secret = gk.create_token(name, scope)
    finally:
        gk.close()
    typer.echo(secret)
    typer.echo(
        f"token {token.name} ({token.scope}): store it now (e.g. as a CI secret); it cannot be "
        "shown again",
        err=True,
    )


@token_app.command("list")
def token_list(db: DbOption = None) -> None:
    """The tokens: name, scope, when made, last used (to the minute) and revoked; never a
    secret or a hash."""
    gk = _gatekeeper(db)
    try:
        tokens = gk.tokens()
    finally:
        gk.close()
    if not tokens:
        typer.echo("No tokens. Make one with: gatekeeper token create --name NAME --scope SCOPE")
        return

    def when(value: datetime | None) -> str:
        return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")

    rows = [("name", "scope", "created", "last used", "revoked")]
    rows += [
        (t.name, t.scope, when(t.created_at), when(t.last_used_at), when(t.revoked_at))
        for t in tokens
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    db: DbOption = None,
) -> None:
    """Revoke a token: every service replica refuses it from the next request on."""
    gk = _gatekeeper(db)
    try:
        token = gk.revoke_token(name)
    finally:
        gk.close()
    assert token.revoked_at is not None
    typer.echo(f"token {token.name}: revoked ({token.revoked_at:%Y-%m-%d %H:%M} UTC)")


def _source_date_epoch(env: Mapping[str, str]) -> datetime | None:
    """``$SOURCE_DATE_EPOCH`` (reproducible-builds.org: seconds since 1970) as the report's
    "generated" stamp, so two runs over the same history write the same bytes."""
    raw = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return None
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            f"SOURCE_DATE_EPOCH={raw!r}: not a number of seconds since 1970-01-01",
            hint="set it to an integer such as $(git log -1 --format=%ct), or unset it",
        ) from None


@app.command()
def report(
    since: Annotated[
        str,
        typer.Option(
            help="Start of the period: 24h, 7d, 2w (counted back from --until), or an ISO date "
            "or time, UTC unless it says (2026-11-14, 2026-11-14T08:00Z).",
        ),
    ] = "7d",
    until: Annotated[
        str | None,
        typer.Option(
            help="End of the period, excluded: an ISO date or time (default: now).",
            show_default=False,
        ),
    ] = None,
    service: Annotated[str | None, typer.Option(help="Only this service's runs and tests.")] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="md or markdown (for a chat message or an issue comment), html (one "
            "self-contained page with charts) or json (every number).",
        ),
    ] = "md",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the report to this file (default: stdout).", show_default=False
        ),
    ] = None,
    config: ConfigOption = None,
    registry: RegistryOption = None,
    db: DbOption = None,
    lock_timeout: LockTimeoutOption = None,
    server: ServerOption = None,
) -> None:
    """The weekly report: CI health (red runs from real failures, flaky tests, infrastructure),
    the flakiest tests, broken tests, quarantines, coverage and benchmark trends."""
    from gatekeeper.api import config_and_registry, parse_report_period
    from gatekeeper.emit import report as emit_report

    fmt = emit_report.ALIASES.get(fmt, fmt)
    if fmt not in emit_report.FORMATS:
        raise ConfigError(
            f"--format {fmt}: not a report format", hint="choose " + ", ".join(emit_report.FORMATS)
        )
    stamp = _source_date_epoch(os.environ)  # checked first: matplotlib reads it too
    remote = _client(
        server,
        db=db,
        lock_timeout=lock_timeout,
        local={"--config": config is not None, "--registry": registry is not None},
    )
    if remote is not None:
        with remote:
            text = remote.report(since=since, until=until, service=service, fmt=fmt)
    else:
        start, end = parse_report_period(since, until)
        settings_config, path, missing_ok = config_and_registry(
            Path.cwd(), os.environ, config, registry
        )
        _known_service(service, found=settings_config)
        gk = _gatekeeper(db, lock_timeout)
        try:
            weekly = gk.report(
                since=start,
                until=end,
                service=service,
                registry_path=path,
                registry_missing_ok=missing_ok,
                config=settings_config,
            )
        finally:
            gk.close()
        if stamp is not None:
            weekly = dataclasses.replace(weekly, generated_at=stamp)
        text = emit_report.render(weekly, fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            f"--out {out}: cannot write the report ({err.strerror})",
            hint="name a file in a folder that exists and that you can write to",
        ) from err


def main() -> None:
    """Entry point: the one place that turns errors into a message and an exit code."""
    try:
        app()
    except GatekeeperError as err:
        from gatekeeper.emit.safe import line  # names in a message are data: shown escaped

        typer.echo(f"gatekeeper: error: {line(str(err))}", err=True)
        sys.exit(err.exit_code)
    except Exception as err:  # a bug: still one line, and never exit 1 ("the gate said no")
        if os.environ.get("GATEKEEPER_DEBUG"):
            raise
        typer.echo(
            f"gatekeeper: internal error: {type(err).__name__}: {err} (this is a bug: please "
            "report it with the command and its input; GATEKEEPER_DEBUG=1 shows the traceback)",
            err=True,
        )
        sys.exit(EXIT_CANNOT_DECIDE)


if __name__ == "__main__":
    main()
