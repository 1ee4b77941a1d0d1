"""The figures of issue 16 ("prove it") for bench/REPORT.md: the races across two broker
processes and the failover times, as the cluster harness (``tests/cluster``) measured them.

The tests write ``bench/results/prove.json`` when ``ACTAS_PROVE_FIGURES`` names it (``make
soak`` does; CI does not). :func:`section` lays the file out as a markdown section; the report
calls it and puts the text where it wants it. Nothing is measured here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIGURES = Path(__file__).resolve().parent / "results" / "prove.json"

_RACES = {
    "handoff_codes": "handoff codes redeemed (`POST /v1/handoff/redeem`)",
    "links": "customer links redeemed (`POST /v1/links/redeem`)",
    "access_codes": "support access codes entered (`POST /v1/cases/{id}/access-code`)",
    "approvals": "requests answered, half approve and half deny (`.../approve`, `.../deny`)",
}
_FAILOVER = {
    "broker_sigkill_to_other_broker_2xx_s": (
        "broker A killed (SIGKILL) mid-traffic → the first write acknowledged by broker B"
    ),
    "postgres_start_to_ready_s": "PostgreSQL started again → accepting connections",
    "postgres_start_to_first_2xx_s": (
        "PostgreSQL started again → the first write acknowledged (broker B, traffic running)"
    ),
    "postgres_ready_to_first_2xx_s": (
        "PostgreSQL accepting connections → the first write acknowledged"
    ),
}


def _load(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded


def section(path: Path = FIGURES) -> str:
    """A markdown section ("## Races and failover ...") from ``path``; says so when there is
    nothing measured yet."""
    figures = _load(path)
    lines = [
        "## Races and failover across two broker processes (`tests/cluster`)",
        "",
        "Two `actas serve` processes (A with one worker, B with two) on one private PostgreSQL, "
        "all on 127.0.0.1. Each race releases 64 contenders together from a barrier, even ones "
        "to A and odd ones to B over HTTP; every race had exactly one winner and one audit "
        "event, the losers got a 4xx problem, and `audit verify` passed (the tests assert it; "
        "these are the counts and times of the run).",
        "",
    ]
    races = figures.get("cluster_races", {})
    if races:
        lines += [
            "| race | secrets | contenders each | total s | per secret ms |",
            "|---|---:|---:|---:|---:|",
        ]
        for key, label in _RACES.items():
            race = races.get(key)
            if not race:
                continue
            per = 1000 * float(race["seconds"]) / max(int(race["secrets"]), 1)
            lines.append(
                f"| {label} | {race['secrets']} | {race['contenders']} | "
                f"{race['seconds']:.1f} | {per:.0f} |"
            )
        lines += [
            "",
            "Per secret: the set-up of the round (staff, subject, case, the secret) and its "
            "64 HTTP calls.",
            "",
        ]
    failover = figures.get("failover", {})
    if failover:
        lines += ["| failover | seconds |", "|---|---:|"]
        for key, label in _FAILOVER.items():
            if key in failover:
                lines.append(f"| {label} | {float(failover[key]):.2f} |")
        lines.append("")
    if not races and not failover:
        lines += [
            f"Not measured yet: run `make soak` (it writes {path.name}).",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(section())
