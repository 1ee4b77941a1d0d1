"""``GET /metrics``: Prometheus exposition of this process's counters and the broker-wide
gauges. Who may read it: with ``ACTAS_METRICS_TOKEN`` set, a caller presenting it as a bearer
token (compared in constant time); without, only a client on this host (loopback) that came
through no proxy. Anything else is a 404, so the endpoint's existence is not advertised."""

from __future__ import annotations

import hmac
from ipaddress import ip_address
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from actas import metrics
from actas.api.deps import ServicesDep, SettingsDep
from actas.http.callers import bearer
from actas.http.problems import problem
from actas.services import gauges

router = APIRouter()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Headers a reverse proxy adds: a loopback peer that forwards for someone else is not local.
_FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        local = ip_address(host).is_loopback
    except ValueError:
        local = False
    return local and not any(h in request.headers for h in _FORWARDED)


def allowed(request: Request, token: str | None) -> bool:
    if token is None:
        return _loopback(request)
    presented = bearer(request) or ""
    return hmac.compare_digest(presented.encode(), token.encode())


@router.get("/metrics", include_in_schema=False, response_model=None)
def read_metrics(request: Request, ctx: ServicesDep, settings: SettingsDep) -> Response:
    token = settings.metrics_token.value if settings.metrics_token else None
    if not allowed(request, token):
        return problem(404, "not found", code="not_found")
    counts = gauges.snapshot(ctx)
    bus: Any = getattr(request.app.state, "bus", None)
    clients = bus.subscriber_count if bus is not None else 0
    # What this process has fanned out, counted from the newest revocation committed when it
    # first looked (a process that started after seq 100 is not 100 behind).
    state = request.app.state
    if getattr(state, "revocation_baseline", None) is None:
        state.revocation_baseline = counts["revocation_seq"]
    heard = max(bus.highest_seq if bus is not None else 0, state.revocation_baseline)
    body = metrics.render(
        {
            "actas_sessions_active": ("Access sessions live now (broker-wide).",
                                      counts["sessions_active"]),
            "actas_approvals_pending": ("Requests waiting for an approver (broker-wide).",
                                        counts["approvals_pending"]),
            "actas_outbox_pending": ("Announcements not yet delivered (broker-wide).",
                                     counts["outbox_pending"]),
            "actas_outbox_dead": ("Announcements dead-lettered (broker-wide).",
                                  counts["outbox_dead"]),
            "actas_revocation_stream_clients": ("Revocation stream clients of this process.",
                                                clients),
            "actas_revocation_stream_lag": (
                "Revocations committed that this process has not yet fanned out (seq behind).",
                max(0, counts["revocation_seq"] - heard),
            ),
        }
    )  # fmt: skip
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
