"""Applications (role ``admin``): where each application's accounts may send staff browsers.

The handoff-host allow-list is a broker admin's decision, never the application's credential's
(issue 9, finding 9): the same service call as ``actas app handoff-hosts``, with the same rules
(the application's own host stays; a host an account still uses cannot be removed), audited.
"""

from __future__ import annotations

from starlette.responses import Response

from actas.console.web import Page, path
from actas.domain.errors import ActasError
from actas.services import applications as app_service


def applications(page: Page, *, status: int = 200) -> Response:
    return page.render(
        "applications.html",
        status=status,
        title="Applications",
        apps=app_service.list_applications(page.ctx),
        form={"host": page.text("host", limit=300)},
    )


def change_hosts(page: Page) -> Response:
    app_id = page.param("app")
    host = page.text("host", limit=300)
    adding = page.text("change", limit=10) != "remove"
    try:
        app_service.set_handoff_hosts(
            page.ctx,
            app_id=app_id,
            add=(host,) if adding else (),
            remove=() if adding else (host,),
            by=page.me.actor,
        )
    except ActasError as exc:
        return applications(page, status=page.failed(exc))
    return page.redirect(path("applications"), done="hosts_changed")
