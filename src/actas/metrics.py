"""The broker's Prometheus metrics (``prometheus-client``), served at ``GET /metrics``.

Counters and histograms here are **per process**: each uvicorn worker counts what it served,
so with ``--workers N`` a scrape sees one worker's figures (Prometheus sums them across
targets; see docs/operations.md). The gauges computed at scrape time from the database
(sessions active, approvals pending, outbox backlog) are **broker-wide**: every worker reports
the same value, so take ``max``, not ``sum``, of them. Revocation stream clients and lag are
this process's own.

No label carries a secret or an unbounded value: routes are templates (``/v1/sessions/{id}``),
never paths; end reasons, alert rules and channels are closed sets."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: The process's registry (not the library's global one, which also holds the interpreter's).
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "actas_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "actas_http_request_duration_seconds",
    "Time to answer an HTTP request (to the start of the response), by route template.",
    ("route",),
    registry=REGISTRY,
)
SESSIONS_STARTED = Counter("actas_sessions_started", "Access sessions started.", registry=REGISTRY)
SESSIONS_ENDED = Counter(
    "actas_sessions_ended", "Access sessions ended, by reason.", ("reason",), registry=REGISTRY
)
ALERTS_RAISED = Counter(
    "actas_alerts_raised", "Anomaly alerts raised, by rule.", ("rule",), registry=REGISTRY
)
AUDIT_EVENTS = Counter(
    "actas_audit_events", "Audit events committed, by type.", ("type",), registry=REGISTRY
)
AUDIT_APPEND_SECONDS = Histogram(
    "actas_audit_append_seconds",
    "Time to append one transaction's events to the hash chain (inside the transaction).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
OUTBOX_DELIVERIES = Counter(
    "actas_outbox_deliveries",
    "Outbox delivery attempts, by channel and outcome (delivered, retry, dead, lost).",
    ("channel", "outcome"),
    registry=REGISTRY,
)

_SESSION_ENDS = ("session.ended", "session.revoked")


def committed(events: Sequence[Any], append_seconds: float) -> None:
    """Count a committed transaction's audit events (``actas.domain.audit.AuditEvent``; the
    store calls this after commit)."""
    AUDIT_APPEND_SECONDS.observe(append_seconds)
    for event in events:
        AUDIT_EVENTS.labels(str(event.type)).inc()
        if event.type == "session.started":
            SESSIONS_STARTED.inc()
        elif event.type in _SESSION_ENDS:
            data = event.data or {}
            SESSIONS_ENDED.labels(str(data.get("end_reason", "unknown"))[:32]).inc()
        elif event.type == "alert.raised":
            ALERTS_RAISED.labels(str((event.data or {}).get("rule", "unknown"))[:40]).inc()


def delivered(channel: str, outcome: str) -> None:
    OUTBOX_DELIVERIES.labels(channel[:32], outcome).inc()


def render(gauges: dict[str, tuple[str, float]]) -> bytes:
    """The exposition: this process's counters, then ``gauges`` (name -> (help, value))
    measured for this scrape in a registry of their own."""
    scrape = CollectorRegistry(auto_describe=True)
    for name, (help_text, value) in gauges.items():
        Gauge(name, help_text, registry=scrape).set(value)
    return generate_latest(REGISTRY) + generate_latest(scrape)


def clock() -> float:
    """Monotonic seconds, for durations."""
    return time.perf_counter()
