"""The access review as files: JSON (the figures the digest covers, plus names), CSV (one row
per figure, for a spreadsheet) and HTML with its charts drawn server-side as inline SVG. The
console and ``actas report access-review`` both use these, so they always agree."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from actas.domain.access_review import AccessReview
from actas.http.svg_chart import bar_chart

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def to_json(review: AccessReview) -> str:
    data: dict[str, Any] = {**review.figures(), "digest": review.digest, "names": review.names}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def to_csv(review: AccessReview) -> str:
    """Long format: ``section,key,measure,value``; a spreadsheet pivots it as it likes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "measure", "value"])
    writer.writerow(["review", review.quarter, "digest", review.digest])
    writer.writerow(["sessions", "total", "count", review.sessions_total])
    sections = (
        ("sessions_by_staff", review.by_staff),
        ("sessions_by_account", review.by_account),
        ("sessions_by_reason", review.by_reason),
        ("sessions_by_kind", review.by_kind),
    )
    for section, counts in sections:
        for key, count in counts.items():
            writer.writerow([section, _safe(key), "count", count])
    for approver, decisions in review.approvals_by_approver.items():
        for decision, count in decisions.items():
            writer.writerow(["approvals_by_approver", approver, decision, count])
    for b in review.break_glass:
        outcome = "unreviewed" if b.justified is None else ("justified" if b.justified else "not")
        writer.writerow(["break_glass", b.request_id, outcome, b.reviewed_by or ""])
    for rule, counts in review.alerts_by_rule.items():
        for measure, count in counts.items():
            writer.writerow(["alerts_by_rule", rule, measure, count])
    for staff in review.unused_eligibility:
        writer.writerow(["unused_eligibility", staff.staff_id, "roles", " ".join(staff.roles)])
    return out.getvalue()


def _safe(cell: str) -> str:
    """Account ids come from host applications: one starting with = + - @ would be a formula
    in a spreadsheet (CSV injection), so it is quoted with a leading apostrophe."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def charts(review: AccessReview) -> dict[str, Markup]:
    """Inline SVG, safe to place in a page: :func:`bar_chart` escapes every label."""
    name = review.names.get
    drawn = {
        "staff": bar_chart(
            "Sessions by staff member", [(name(k, k), n) for k, n in review.by_staff.items()]
        ),
        "account": bar_chart("Sessions by account", list(review.by_account.items()), colour=1),
        "reason": bar_chart("Sessions by reason code", list(review.by_reason.items()), colour=2),
        "kind": bar_chart("Sessions by kind", list(review.by_kind.items()), colour=3),
    }
    return {key: Markup(svg) for key, svg in drawn.items()}  # noqa: S704 (escaped in bar_chart)


def body(review: AccessReview) -> Markup:
    """The review's sections as an HTML fragment (the console wraps it in its layout)."""
    html = _ENV.get_template("review_body.html").render(review=review, charts=charts(review))
    return Markup(html)  # noqa: S704 (an autoescaping template's output)


def document(review: AccessReview) -> str:
    """A standalone HTML file: no script, no external host, readable offline."""
    return _ENV.get_template("review_document.html").render(review=review, body=body(review))
