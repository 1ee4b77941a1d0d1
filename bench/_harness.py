"""What every benchmark here shares, so that each figure is measured the same honest way.

- **Paired, interleaved rounds.** A case and its baseline run in the same round, one after
  the other, with the order turned each round; the ratio is taken per round and reported as
  the median and range over the rounds (at least five unless ``--smoke``). Load from other
  processes then hits case and baseline alike, and the range shows how much it moved them.
- **CPU time per request** where the figure is per request (``time.process_time`` in
  process, ``/proc/<pid>/stat`` for a server): it survives a busy machine far better than
  requests per second.
- **The load average** is printed beside every table and kept in the figures.
- ``--json PATH`` writes the figures for ``bench/report.py``; ``--smoke`` runs tiny counts
  (CI checks that the scripts work, never what they measure).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine() -> str:
    return f"{os.cpu_count()} CPUs, load average (1/5/15 min) {load_average()}"


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mib(pid: int | None = None) -> tuple[float, float]:
    """(resident now, peak resident) in MiB, from ``/proc/<pid>/status``."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    values = {}
    for line in status.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, lowest, highest)."""
    return statistics.median(values), min(values), max(values)


def interleaved(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every case once per round, the order turned by one each round; each call returns
    its measurement (a rate or a cost)."""
    names = list(cases)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            out[name].append(cases[name]())
    return out


def per_round(
    values: dict[str, list[float]], case: str, combine: Callable[..., float], *others: str
) -> list[float]:
    """``combine(case_value, other_values...)`` round by round (the pairing)."""
    return [
        combine(values[case][i], *(values[o][i] for o in others)) for i in range(len(values[case]))
    ]


@dataclass
class Figure:
    """One reported figure: the case, its baseline measured in the same rounds, the ratio
    (median and range over the rounds) and the target, if there is one."""

    section: str
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    ratio: float
    ratio_low: float
    ratio_high: float
    rounds: int
    ratio_means: str = "case / baseline"
    target: str | None = None
    met: bool | None = None
    note: str = ""
    load: str = field(default_factory=load_average)


@dataclass
class Results:
    script: str
    command: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        target = f"  target {figure.target}: {'met' if figure.met else 'NOT met'}"
        print(
            f"  {figure.name:<44} {figure.value:>11,.2f} {figure.unit:<8} "
            f"baseline {figure.baseline_name} {figure.baseline:,.2f}  ratio {figure.ratio:.3f} "
            f"[{figure.ratio_low:.3f}..{figure.ratio_high:.3f}] over {figure.rounds} rounds"
            + (target if figure.target else "")
        )
        return figure

    def save(self, path: str | None) -> None:
        if not path:
            return
        body = {
            "script": self.script,
            "command": self.command,
            "figures": [asdict(f) for f in self.figures],
            "notes": self.notes,
            "extra": self.extra,
            "machine": machine(),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        Path(path).write_text(json.dumps(body, indent=1))


def arguments(description: str, rounds: int = 5) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=rounds, help="paired rounds (>= 5)")
    parser.add_argument("--smoke", action="store_true", help="tiny counts: does it run at all")
    parser.add_argument("--json", help="write the figures here (for bench/report.py)")
    return parser


def command_line(argv: Sequence[str]) -> str:
    """The command that reproduces a run, as the report shows it (without ``--json``)."""
    cleaned: list[str] = []
    skip = False
    for part in argv:
        if skip:
            skip = False
        elif part == "--json":
            skip = True
        elif not part.startswith("--json="):
            cleaned.append(part)
    return "python " + " ".join(cleaned)
