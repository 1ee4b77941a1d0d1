"""Figures the cluster harness measures (race counts and timings, failover times), written to
a JSON file for bench/REPORT.md when ``ACTAS_PROVE_FIGURES`` names one (``make soak`` and
``make bench`` set it; CI does not). Nothing here is asserted: the tests assert outcomes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV = "ACTAS_PROVE_FIGURES"
FIGURES: dict[str, dict[str, Any]] = {}


def record(section: str, name: str, value: Any) -> None:
    FIGURES.setdefault(section, {})[name] = value


def write() -> Path | None:
    """Merge this run's figures into the file (sections not measured now are kept)."""
    target = os.environ.get(ENV)
    if not target or not FIGURES:
        return None
    path = Path(target)
    known: dict[str, Any] = {}
    if path.exists():
        try:
            known = json.loads(path.read_text())
        except ValueError:
            known = {}
    for section, values in FIGURES.items():
        known.setdefault(section, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, indent=2, sort_keys=True, default=str) + "\n")
    return path
