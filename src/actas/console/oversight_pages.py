"""Oversight for the ``security`` role: anomaly alerts to acknowledge with a comment, and the
break-glass review queue. Each action is one service call that writes its audit event."""

from __future__ import annotations

from starlette.responses import Response

from actas.console.web import Page, path, staff_names
from actas.domain.errors import ActasError, InvalidInput
from actas.services import alerts as alert_service
from actas.services import break_glass as break_glass_service

#: How each rule reads on the page.
RULE_WORDS = {
    "sessions_per_account": "Many sessions on one account",
    "staff_share": "One staff member holds an account",
    "outside_hours": "Session outside working hours",
    "break_glass": "Break-glass used",
    "break_glass_unreviewed": "Break-glass still unreviewed",
    "denied_requests": "Repeated denied requests",
    "failed_step_ups": "Repeated failed step-ups",
    "session_writes": "Many writes in one session",
    "no_ticket": "Access without a ticket",
    "fast_approval": "Approved within seconds",
    "rubber_stamp": "Approver approves nearly everything",
}


def alerts(page: Page, *, status: int = 200) -> Response:
    found = alert_service.recent(page.ctx)
    return page.render(
        "alerts.html",
        status=status,
        title="Alerts",
        open_alerts=[a for a in found if a.acknowledged_at is None],
        done_alerts=[a for a in found if a.acknowledged_at is not None],
        words=RULE_WORDS,
        names=staff_names(page.ctx),
    )


def alert(page: Page) -> Response:
    one = alert_service.get(page.ctx, page.param("alert"))
    return page.render(
        "alerts.html",
        title="Alert",
        open_alerts=[one] if one.acknowledged_at is None else [],
        done_alerts=[one] if one.acknowledged_at is not None else [],
        words=RULE_WORDS,
        names=staff_names(page.ctx),
    )


def acknowledge(page: Page) -> Response:
    try:
        alert_service.acknowledge(
            page.ctx,
            alert_id=page.param("alert"),
            staff=page.staff,
            comment=page.text("comment"),
            by=page.me.actor,
        )
    except ActasError as exc:
        return alerts(page, status=page.failed(exc))
    return page.redirect(path("alerts"), done="acknowledged")


def break_glass(page: Page, *, status: int = 200) -> Response:
    return page.render(
        "break_glass.html",
        status=status,
        title="Break-glass review",
        queue=break_glass_service.queue(page.ctx),
        names=staff_names(page.ctx),
    )


def review(page: Page) -> Response:
    try:
        outcome = page.text("outcome", limit=20)
        if outcome not in {"justified", "unjustified"}:
            raise InvalidInput("choose whether the use was justified")
        break_glass_service.review(
            page.ctx,
            request_id=page.param("request"),
            reviewer=page.staff,
            justified=outcome == "justified",
            comment=page.text("comment"),
            by=page.me.actor,
        )
    except ActasError as exc:
        return break_glass(page, status=page.failed(exc))
    return page.redirect(path("break-glass"), done="reviewed")
