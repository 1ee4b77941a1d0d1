"""The console's routes: one table of path, method, view and the roles it needs.

They are plain Starlette routes (not FastAPI operations): HTML pages are no part of the API's
OpenAPI document. Each endpoint is wrapped by :func:`actas.console.web.view`, which signs the
staff member in, checks a POST's CSRF token and the roles, and adds the security headers.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route, compile_path
from starlette.staticfiles import StaticFiles

from actas.console import (
    access_pages,
    account_pages,
    app_pages,
    audit_pages,
    auth_pages,
    case_flow_pages,
    customer_pages,
    enroll_pages,
    oversight_pages,
    passkey_pages,
    review_pages,
    session_pages,
    sso_pages,
    staff_pages,
)
from actas.console.web import HOME, PREFIX, TEMPLATES, View, not_found, view
from actas.domain.roles import Role
from actas.http.security_headers import SecurityHeaders

STATIC = TEMPLATES.parent / "static"
SECURITY = (Role.SECURITY,)
ADMIN = (Role.ADMIN,)

#: (path under /console, method, view, public, roles)
PAGES: tuple[tuple[str, str, View, bool, tuple[Role, ...]], ...] = (
    ("/", "GET", auth_pages.home, False, ()),
    ("/login", "GET", auth_pages.login_form, True, ()),
    ("/login", "POST", auth_pages.login, True, ()),
    ("/logout", "POST", auth_pages.logout, False, ()),
    ("/login/passkey/options", "POST", passkey_pages.sign_in_options, True, ()),
    ("/login/passkey", "POST", passkey_pages.sign_in, True, ()),
    ("/me", "GET", passkey_pages.me, False, ()),
    ("/me/passkeys/options", "POST", passkey_pages.register_options, False, ()),
    ("/me/passkeys", "POST", passkey_pages.register, False, ()),
    ("/me/passkeys/{passkey}/remove", "POST", passkey_pages.remove, False, ()),
    ("/passkeys/step-up-options", "POST", passkey_pages.step_up_options, False, ()),
    ("/enroll/{token}", "GET", enroll_pages.open_link, True, ()),
    ("/enroll/{token}", "POST", enroll_pages.complete, True, ()),
    ("/enroll/{token}/passkey-options", "POST", enroll_pages.passkey_options, True, ()),
    ("/sso/start", "GET", sso_pages.start, True, ()),
    ("/sso/callback", "GET", sso_pages.callback, True, ()),
    ("/search", "GET", customer_pages.search, False, ()),
    ("/subjects/{app}/{subject}", "GET", customer_pages.subject, False, ()),
    ("/cases", "POST", customer_pages.open_case, False, ()),
    ("/cases/{case}", "GET", customer_pages.case, False, ()),
    ("/cases/{case}/notes", "POST", customer_pages.add_note, False, ()),
    ("/cases/{case}/close", "POST", customer_pages.close_case, False, ()),
    ("/cases/{case}/codes", "POST", case_flow_pages.send_code, False, ()),
    ("/cases/{case}/codes/check", "POST", case_flow_pages.check_code, False, ()),
    ("/cases/{case}/links", "POST", case_flow_pages.send_link, False, ()),
    ("/cases/{case}/access-code", "POST", case_flow_pages.enter_access_code, False, ()),
    ("/cases/{case}/ask-consent", "POST", case_flow_pages.ask_consent, False, ()),
    ("/cases/{case}/access", "GET", access_pages.access_form, False, ()),
    ("/cases/{case}/access", "POST", access_pages.ask, False, ()),
    ("/cases/{case}/preview", "POST", access_pages.preview, False, ()),
    ("/requests/{request}", "GET", access_pages.request_page, False, ()),
    ("/requests/{request}/status", "GET", access_pages.request_status, False, ()),
    ("/requests/{request}/start", "POST", access_pages.start, False, ()),
    ("/requests/{request}/approve", "POST", access_pages.approve, False, ()),
    ("/requests/{request}/deny", "POST", access_pages.deny, False, ()),
    ("/approvals", "GET", access_pages.approvals, False, ()),
    ("/sessions", "GET", session_pages.sessions, False, ()),
    ("/sessions/{session}", "GET", session_pages.session, False, ()),
    ("/sessions/{session}/end", "POST", session_pages.end, False, ()),
    ("/sessions/{session}/revoke", "POST", session_pages.revoke, False, ()),
    ("/sessions/{session}/extend", "POST", session_pages.extend, False, ()),
    ("/sessions/{session}/reopen", "POST", session_pages.reopen, False, ()),
    ("/audit", "GET", audit_pages.audit, False, SECURITY),
    ("/sessions/{session}/timeline", "GET", audit_pages.session_timeline, False, SECURITY),
    ("/audit/verify", "GET", audit_pages.verify, False, SECURITY),
    ("/audit/export.jsonl", "GET", audit_pages.export_jsonl, False, SECURITY),
    ("/audit/export.csv", "GET", audit_pages.export_csv, False, SECURITY),
    ("/alerts", "GET", oversight_pages.alerts, False, SECURITY),
    ("/alerts/{alert}", "GET", oversight_pages.alert, False, SECURITY),
    ("/alerts/{alert}/acknowledge", "POST", oversight_pages.acknowledge, False, SECURITY),
    ("/break-glass", "GET", oversight_pages.break_glass, False, SECURITY),
    ("/break-glass/{request}/review", "POST", oversight_pages.review, False, SECURITY),
    ("/access-review", "GET", review_pages.review, False, SECURITY),
    ("/access-review/{quarter}/download/{fmt}", "GET", review_pages.download, False, SECURITY),
    ("/access-review/{quarter}/sign", "POST", review_pages.sign, False, SECURITY),
    ("/staff", "GET", staff_pages.staff, False, ADMIN),
    ("/staff", "POST", staff_pages.add, False, ADMIN),
    ("/staff/{staff}/roles", "POST", staff_pages.set_roles, False, ADMIN),
    ("/staff/{staff}/disable", "POST", staff_pages.disable, False, ADMIN),
    ("/staff/{staff}/enable", "POST", staff_pages.enable, False, ADMIN),
    ("/staff/{staff}/reset-totp", "POST", staff_pages.reset_totp, False, ADMIN),
    ("/staff/{staff}/enrollment-link", "POST", enroll_pages.issue, False, ADMIN),
    ("/staff/{staff}/unthrottle", "POST", staff_pages.unthrottle, False, ADMIN),
    ("/accounts/{app}/{account}/flags", "POST", account_pages.set_flags, False, ADMIN),
    ("/applications", "GET", app_pages.applications, False, ADMIN),
    ("/applications/{app}/hosts", "POST", app_pages.change_hosts, False, ADMIN),
)


def _build() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.routes.append(Route("/", view(auth_pages.home), methods=["GET"], name="console:root"))
    for suffix, method, fn, public, roles in PAGES:
        endpoint = view(fn, public=public, roles=roles)
        name = f"console:{method.lower()}:{suffix}"
        router.routes.append(Route(PREFIX + suffix, endpoint, methods=[method], name=name))
    # Vendored htmx, the stylesheet and the script: revalidated, never from another host.
    static = SecurityHeaders(StaticFiles(directory=STATIC), cache_control="no-cache")
    router.routes.append(Mount(f"{PREFIX}/static", app=static, name="console:static"))
    # Last: every other address under /console is the console's 404 page, not JSON. It
    # matches any method, so a GET on a form's address lands here too (not a bare 405).
    gets = {suffix for suffix, method, *_ in PAGES if method == "GET"}
    form_only = [
        compile_path(PREFIX + suffix)[0] for suffix, method, *_ in PAGES if suffix not in gets
    ]

    def is_form_only(address: str) -> bool:
        return any(pattern.match(address) for pattern in form_only)

    router.routes.append(
        Route(PREFIX, lambda _: RedirectResponse(HOME, status_code=303), name="console:bare")
    )
    router.routes.append(
        Route(
            PREFIX + "/{rest:path}",
            not_found(is_form_only),
            methods=list(_METHODS),
            name="console:not_found",
        )
    )
    return router


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


router = _build()
