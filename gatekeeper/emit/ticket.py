"""The issue `gatekeeper quarantine ticket` files for a quarantined test (Markdown; pure).

Names and messages come from test reports: in the body they are code spans and fenced blocks
(``safe.md_code``, a fence longer than any backtick run), so nothing in them renders as
Markdown or HTML in the tracker.
"""

from __future__ import annotations

from collections.abc import Sequence

from gatekeeper.emit import safe
from gatekeeper.model import Outcome, QuarantineEntry, TestExecution, Ticket

LABELS = ("flaky-test",)
MAX_FAILURES = 5  # the newest failures quoted in the body
MAX_MESSAGE = 1500  # characters of each quoted message
MAX_TITLE = 200


def title(entry: QuarantineEntry) -> str:
    """One line, the same for the same test: the tracker is searched for it."""
    flat = " ".join(f"Flaky test {entry.name} in {entry.service}".split())
    return flat if len(flat) <= MAX_TITLE else flat[: MAX_TITLE - 1] + "…"


def ticket(entry: QuarantineEntry, history: Sequence[TestExecution], registry: str) -> Ticket:
    """The issue for ``entry``, with the evidence, its last failures and runs (``history``:
    the test's recent executions, oldest first) and the registry lines to remove."""
    ev = entry.evidence
    out = [
        f"{safe.md_code(entry.name)} in **{safe.md_text(entry.service)}** is quarantined in "
        f"`{safe.md_text(registry)}`: its failures do not fail the gate until it is fixed.",
        "",
        f"- **Owner**: {safe.md_text(entry.owner) if entry.owner else 'none yet (CODEOWNERS)'}",
        f"- **Reason**: {safe.md_text(entry.reason)}",
    ]
    if ev is not None:
        out.append(f"- **Verdict**: {ev.verdict.value}")
        if ev.failure_rate is not None and ev.runs is not None:
            interval = ""
            if ev.failure_rate_ci95 is not None:
                low, high = ev.failure_rate_ci95
                interval = f" (95% interval {low:.1%} to {high:.1%})"
            out.append(
                f"- **Failure rate**: {ev.failure_rate:.1%} of {ev.runs} executions"
                f" ({ev.failures or 0} failed){interval}"
            )
        if ev.same_commit_flips:
            out.append(f"- **Passed and failed on the same commit**: {ev.same_commit_flips}×")
        if ev.detected:
            out.append(f"- **Quarantined since**: {ev.detected.isoformat()}")
        if ev.summary and ev.summary != entry.reason:
            out.append(f"- **Evidence**: {safe.md_text(ev.summary)}")
    if entry.expires:
        out.append(f"- **Quarantine expires**: {entry.expires.isoformat()}")
    failed = [e for e in history if e.outcome in (Outcome.FAILED, Outcome.ERROR)]
    if failed:
        out += ["", f"### The last failures ({min(len(failed), MAX_FAILURES)} of {len(failed)})"]
        for e in reversed(failed[-MAX_FAILURES:]):
            when = e.timestamp.date().isoformat() if e.timestamp else "?"
            commit = (e.commit or "?")[:10]
            retry = f", retry {e.retry}" if e.retry else ""
            out += [
                "",
                f"Run {safe.md_code(e.run_id)} attempt {e.attempt}{retry}, commit "
                f"{safe.md_code(commit)}, {when}:",
            ]
            if e.message:
                message = e.message.strip()
                if len(message) > MAX_MESSAGE:
                    message = message[: MAX_MESSAGE - 1] + "…"
                fence = "~" * max(3, _longest_run(message, "~") + 1)
                out += [f"{fence}text", safe.block(message), fence]
    if history:
        runs = list(dict.fromkeys((e.run_id, e.attempt) for e in history))
        marks = "".join(_mark(history, run) for run in runs)
        out += [
            "",
            f"### The last {len(runs)} runs (oldest first; `F` failed, `R` passed on a retry, "
            "`.` passed, `s` skipped)",
            "",
            f"`{marks}`",
        ]
    out += [
        "",
        "### When it is fixed",
        "",
        f"Remove its entry from `{safe.md_text(registry)}` (or run `gatekeeper quarantine "
        "remove`):",
        "",
        "```yaml",
        f"  - name: {_yaml_string(entry.name)}",
        f"    service: {_yaml_string(entry.service)}",
        "```",
        "",
        "```sh",
        f"gatekeeper quarantine remove {_shell(entry.name)} --service {_shell(entry.service)}",
        "```",
        "",
        "_Filed by `gatekeeper quarantine ticket`._",
    ]
    return Ticket(
        service=entry.service,
        name=entry.name,
        title=title(entry),
        body="\n".join(out) + "\n",
        owner=entry.owner,
        labels=LABELS,
    )


def _mark(history: Sequence[TestExecution], run: tuple[str, int]) -> str:
    execs = [e for e in history if (e.run_id, e.attempt) == run]
    final = execs[-1].outcome
    if final in (Outcome.FAILED, Outcome.ERROR):
        return "F"
    if any(e.outcome in (Outcome.FAILED, Outcome.ERROR) for e in execs):
        return "R"
    return "s" if final is Outcome.SKIPPED else "."


def _longest_run(text: str, char: str) -> int:
    best = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        best = max(best, run)
    return best


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar (JSON's escapes are YAML's)."""
    import json

    return json.dumps(text, ensure_ascii=True)


def _shell(text: str) -> str:
    import shlex

    return shlex.quote(safe.line(text))
