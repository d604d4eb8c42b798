"""What `gatekeeper classify` prints: what changed in the registry, broken tests, bursts."""

from __future__ import annotations

from collections.abc import Sequence

from gatekeeper.emit import safe
from gatekeeper.model import BurstRun, ChangeKind, RegistryChange, TestVerdict, Verdict

_MARK = {
    ChangeKind.ADDED: "+ quarantined",
    ChangeKind.QUARANTINED: "+ quarantined",
    ChangeKind.RELEASED: "- released",
    ChangeKind.REMOVED: "- removed",
    ChangeKind.UPDATED: "~ updated",
}


def _why(verdict: TestVerdict | None) -> str:
    if verdict is None:
        return ""
    summary = verdict.evidence.summary
    return f": {summary}" if summary else f": {verdict.verdict.value}"


_BURSTS_SHOWN = 10  # the run attempts with the most failures charged to a common cause


def report(
    path: str,
    verdicts: Sequence[TestVerdict],
    bursts: Sequence[BurstRun],
    changes: Sequence[RegistryChange],
    *,
    written: bool,
    dry_run: bool,
) -> str:
    by_key = {v.key: v for v in verdicts}
    counts = {k: 0 for k in Verdict}
    for v in verdicts:
        counts[v.verdict] += 1
    services = len({v.service for v in verdicts})
    lines = [
        f"classified {len(verdicts):,} tests in {services} service(s): "
        + ", ".join(f"{counts[k]} {k.value}" for k in Verdict if counts[k])
    ]
    shown = sorted(bursts, key=lambda b: -b.failures)[:_BURSTS_SHOWN]
    for b in bursts:
        if b not in shown:
            continue
        where = f" ({b.commit[:10]})" if b.commit else ""
        lines.append(
            f"  common cause: {b.service} run {b.run_id} attempt {b.attempt}{where}: "
            f"{b.failures} of its {b.tests} tests' failures charged to it, not to the tests"
        )
    if len(bursts) > len(shown):
        rest = [b for b in bursts if b not in shown]
        lines.append(
            f"  ... and {len(rest)} more run attempts with a common cause "
            f"({sum(b.failures for b in rest):,} failures charged to them)"
        )
    for c in changes:
        if c.kind is ChangeKind.UPDATED:
            continue
        lines.append(
            f"  {_MARK[c.kind]:<14} {c.service}  {c.name}{_why(by_key.get((c.service, c.name)))}"
        )
    updated = sum(1 for c in changes if c.kind is ChangeKind.UPDATED)
    if updated:
        lines.append(f"  ~ updated      evidence of {updated} entr{'y' if updated == 1 else 'ies'}")
    for v in verdicts:
        if v.verdict is Verdict.BROKEN:
            since = ""
            if v.since is not None and v.since.commit:
                since = f" since {v.since.commit[:10]}"
                if v.since.run:
                    since += f" (run {v.since.run})"
            lines.append(
                f"  ! broken       {v.service}  {v.test_id}{since}: fails every run; "
                "it keeps failing the gate (never quarantined)"
            )
    if not changes:
        status = "unchanged"
    elif dry_run:
        status = f"{len(changes)} change(s), not written (--dry-run)"
    else:
        status = f"{len(changes)} change(s) written" if written else "unchanged"
    lines.append(f"{path}: {status}")
    return "\n".join(safe.line(one) for one in lines) + "\n"  # names are data: escaped
