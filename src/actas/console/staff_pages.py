"""Staff administration (role ``admin``): add, disable, enable, change roles, reset the
authenticator, clear a sign-in wait. Each is one service call, and each service call writes
its audit event. A refusal (the last admin, disabling yourself) is shown on the page."""

from __future__ import annotations

import secrets

from starlette.responses import Response

from actas.console.auth_pages import qr_svg, secret_of
from actas.console.web import Page, path
from actas.domain.errors import ActasError
from actas.domain.roles import Role, parse_role
from actas.domain.staff import Staff
from actas.services import staff as staff_service
from actas.services import throttle as throttle_service


def staff(page: Page, *, status: int = 200) -> Response:
    members = sorted(staff_service.list_staff(page.ctx), key=lambda m: m.display_name.lower())
    return page.render(
        "staff.html",
        status=status,
        title="Staff",
        members=members,
        slowed=throttle_service.slowed_staff(page.ctx),
        roles=list(Role),
        form={
            "email": page.text("email", limit=320),
            "display_name": page.text("display_name", limit=200),
            "roles": page.values("roles"),
        },
    )


def _roles(page: Page) -> frozenset[Role]:
    return frozenset(parse_role(value[:32]) for value in page.values("roles"))


def _member(page: Page) -> Staff:
    return staff_service.get_staff(page.ctx, page.param("staff"))


def _enrollment(page: Page, member: Staff, uri: str, *, headline: str, password: str) -> Response:
    return page.render(
        "enrollment.html",
        title="Authenticator enrollment",
        member=member,
        qr=qr_svg(uri, label=f"QR code to enroll {member.email} in an authenticator app"),
        secret=secret_of(uri),
        password=password,
        headline=headline,
    )


def add(page: Page) -> Response:
    if page.text("setup", limit=10) in ("link", "email"):
        from actas.console import enroll_pages  # it renders this page on refusals

        return enroll_pages.add(page)
    password = page.text("password", limit=1024)
    generated = "" if password else secrets.token_urlsafe(18)
    try:
        enrollment = staff_service.add_staff(
            page.ctx,
            email=page.text("email", limit=320),
            display_name=page.text("display_name", limit=200),
            roles=_roles(page),
            password=password or generated,
            by=page.me.actor,
        )
    except ActasError as exc:
        return staff(page, status=page.failed(exc))
    return _enrollment(
        page,
        enrollment.staff,
        enrollment.otpauth_uri,
        headline=f"{enrollment.staff.display_name} is added.",
        password=generated,
    )


def set_roles(page: Page) -> Response:
    try:
        member = _member(page)
        staff_service.set_roles(page.ctx, email=member.email, roles=_roles(page), by=page.me.actor)
    except ActasError as exc:
        return staff(page, status=page.failed(exc))
    return page.redirect(path("staff"), done="roles_changed")


def disable(page: Page) -> Response:
    try:
        member = _member(page)
        staff_service.disable_staff(page.ctx, email=member.email, by=page.me.actor)
    except ActasError as exc:
        return staff(page, status=page.failed(exc))
    return page.redirect(path("staff"), done="disabled")


def enable(page: Page) -> Response:
    try:
        member = _member(page)
        staff_service.enable_staff(page.ctx, email=member.email, by=page.me.actor)
    except ActasError as exc:
        return staff(page, status=page.failed(exc))
    return page.redirect(path("staff"), done="enabled")


def unthrottle(page: Page) -> Response:
    try:
        member = _member(page)
        throttle_service.unthrottle(page.ctx, email=member.email, by=page.me.actor)
    except ActasError as exc:
        return staff(page, status=page.failed(exc))
    return page.redirect(path("staff"), done="unthrottled")


def reset_totp(page: Page) -> Response:
    try:
        member = _member(page)
        uri = staff_service.reset_totp(page.ctx, email=member.email, by=page.me.actor)
    except ActasError as exc:
        return staff(page, status=page.failed(exc))
    return _enrollment(
        page,
        member,
        uri,
        headline=f"{member.display_name} has a new authenticator key; their sessions have ended.",
        password="",
    )
