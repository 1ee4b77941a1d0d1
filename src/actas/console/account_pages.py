"""A broker admin sets an account's flags from the console (audited; acts at once)."""

from __future__ import annotations

from starlette.responses import Response

from actas.console.web import Page, path
from actas.domain.errors import ActasError, InvalidInput
from actas.domain.subjects import AccountFlag
from actas.services import customer_policy


def set_flags(page: Page) -> Response:
    application_id, account_id = page.param("app"), page.param("account")
    subject = page.text("subject", limit=128)
    try:
        try:
            flags = frozenset(AccountFlag(v) for v in page.values("flags"))
        except ValueError:
            raise InvalidInput("unknown account flag") from None
        customer_policy.set_account_flags(
            page.ctx,
            application_id=application_id,
            account_id=account_id,
            flags=flags,
            staff=page.staff,
            by=page.me.actor,
        )
    except ActasError as exc:
        status = page.failed(exc)
        return page.render(
            "error.html", status=status, title="Flags not changed", detail=" ".join(page.errors)
        )
    return page.redirect(path("subjects", application_id, subject))
