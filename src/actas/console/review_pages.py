"""The quarterly access review for ``security``: the figures with their charts, downloads as
HTML, CSV and JSON, and the sign-off (one service call that writes its audit event)."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response

from actas.console.web import Page, path
from actas.domain.access_review import parse_quarter, quarter_of
from actas.domain.errors import ActasError, InvalidInput
from actas.http import review_report
from actas.http.downloads import attachment
from actas.services import access_review

DOWNLOADS = {
    "html": ("text/html; charset=utf-8", review_report.document),
    "csv": ("text/csv; charset=utf-8", review_report.to_csv),
    "json": ("application/json", review_report.to_json),
}


def _quarter(page: Page, given: str) -> str:
    """The quarter asked for, else the last one that has ended (the one to review)."""
    if given:
        return parse_quarter(given).label
    return quarter_of(quarter_of(page.now()).start - timedelta(days=1)).label


def review(page: Page, *, status: int = 200, quarter: str = "") -> Response:
    try:
        label = _quarter(page, quarter or page.query("quarter", limit=10))
    except InvalidInput as exc:
        status = page.failed(exc)
        label = _quarter(page, "")
    found = access_review.build(page.ctx, label)
    signed = access_review.signoffs(page.ctx, label)
    return page.render(
        "access_review.html",
        status=status,
        title=f"Access review {label}",
        review=found,
        body=review_report.body(found),
        signoffs=signed,
        ended=page.now() >= parse_quarter(label).end,
        mine=any(s.reviewer_id == page.staff.id for s in signed),
    )


def download(page: Page) -> Response:
    fmt = page.param("fmt")
    if fmt not in DOWNLOADS:
        raise InvalidInput("download as html, csv or json")
    label = parse_quarter(page.param("quarter")).label
    media, render = DOWNLOADS[fmt]
    found = access_review.build(page.ctx, label)
    return Response(
        render(found),
        media_type=media,
        headers={"Content-Disposition": attachment(f"access-review-{label}.{fmt}")},
    )


def sign(page: Page) -> Response:
    label = page.param("quarter")
    try:
        access_review.sign_off(
            page.ctx,
            quarter=label,
            digest=page.text("digest", limit=64),
            reviewer=page.staff,
            comment=page.text("comment"),
            by=page.me.actor,
        )
    except ActasError as exc:
        return review(page, status=page.failed(exc), quarter=label)
    return page.redirect(path("access-review"), quarter=label, done="signed_off")
