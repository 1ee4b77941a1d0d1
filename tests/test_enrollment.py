"""Enrollment links through the services: the member sets their own password and enrols
TOTP or a passkey; the admin only ever holds the link. Single use, 24 hours, superseded by a
newer link, emailed through the outbox when asked."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from actas.bootstrap import Broker
from actas.domain.errors import AuthenticationFailed, Conflict, InvalidGrant, InvalidInput, NotFound
from actas.domain.identity import NO_PASSWORD
from actas.domain.roles import Role
from actas.services import enrollment, passkeys
from actas.services import staff as staff_service
from actas.store.tables import outbox
from tests.desk import SETUP, Desk
from tests.webauthn_soft import SoftAuthenticator

PASSWORD = "a-long-enough-passphrase"


def _token(url: str | None) -> str:
    assert url is not None
    return url.rsplit("/", 1)[1]


def _add(desk: Desk, *, send_email: bool = False) -> enrollment.IssuedEnrollment:
    return enrollment.add_member(
        desk.ctx,
        email="Nina@Staff.test",
        display_name="Nina",
        roles=frozenset({Role.AGENT}),
        send_email=send_email,
        by=SETUP,
    )


def _code(desk: Desk, token: str) -> tuple[str, str]:
    uri = enrollment.open_link(desk.ctx, token).otpauth_uri
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    return secret, pyotp.TOTP(secret).at(desk.clock())


def test_the_member_sets_password_and_totp_and_the_link_works_once(desk: Desk) -> None:
    issued = _add(desk)
    assert issued.url is not None
    assert issued.url.startswith("https://broker.test/console/enroll/actas_en_")
    assert issued.staff.password_hash == NO_PASSWORD
    token = _token(issued.url)
    secret, code = _code(desk, token)
    # The page shows the same seed however often it is opened (the first view made it).
    assert _code(desk, token)[0] == secret
    enrollment.complete(
        desk.ctx, token=token, password=PASSWORD, code=code, passkey_response=None, by=SETUP
    )
    desk.clock.advance(30)
    signed = staff_service.login(
        desk.ctx,
        email="nina@staff.test",
        password=PASSWORD,
        code=pyotp.TOTP(secret).at(desk.clock()),
        by=SETUP,
    )
    assert signed.staff.email == "nina@staff.test"
    with pytest.raises(InvalidGrant):  # reuse
        enrollment.open_link(desk.ctx, token)
    desk.clock.advance(30)
    with pytest.raises(InvalidGrant):
        enrollment.complete(
            desk.ctx,
            token=token,
            password="another-long-passphrase",
            code=pyotp.TOTP(secret).at(desk.clock()),
            passkey_response=None,
            by=SETUP,
        )
    types = desk.types()
    assert "staff.enrollment_issued" in types
    assert types.count("staff.enrolled") == 1


def test_an_expired_link_is_refused(desk: Desk) -> None:
    token = _token(_add(desk).url)
    secret, _ = _code(desk, token)
    desk.clock.advance(timedelta(hours=24).total_seconds())
    with pytest.raises(InvalidGrant):
        enrollment.open_link(desk.ctx, token)
    with pytest.raises(InvalidGrant):
        enrollment.complete(
            desk.ctx,
            token=token,
            password=PASSWORD,
            code=pyotp.TOTP(secret).at(desk.clock()),
            passkey_response=None,
            by=SETUP,
        )
    assert staff_service.get_staff(desk.ctx, _member(desk)).password_hash == NO_PASSWORD


def _member(desk: Desk) -> str:
    return enrollment.member_by_email(desk.ctx, "nina@staff.test").id


def test_a_wrong_code_changes_nothing_and_a_newer_link_replaces_the_old(desk: Desk) -> None:
    first = _token(_add(desk).url)
    _code(desk, first)
    with pytest.raises(InvalidInput, match="does not match"):
        enrollment.complete(
            desk.ctx, token=first, password=PASSWORD, code="000000", passkey_response=None, by=SETUP
        )
    assert enrollment.open_link(desk.ctx, first)  # still usable
    second = _token(
        enrollment.issue(desk.ctx, staff_id=_member(desk), send_email=False, by=SETUP).url
    )
    with pytest.raises(InvalidGrant):
        enrollment.open_link(desk.ctx, first)
    assert enrollment.open_link(desk.ctx, second).staff.email == "nina@staff.test"
    with pytest.raises(InvalidInput):  # a weak password is refused before anything changes
        enrollment.complete(
            desk.ctx, token=second, password="short", code="123456", passkey_response=None, by=SETUP
        )


def test_the_member_enrols_a_passkey_instead(desk: Desk) -> None:
    token = _token(_add(desk).url)
    key = SoftAuthenticator()
    options = enrollment.passkey_options(desk.ctx, token)
    enrollment.complete(
        desk.ctx,
        token=token,
        password=PASSWORD,
        code=None,
        passkey_response=key.create(options),
        passkey_name="Phone",
        by=SETUP,
    )
    [stored] = passkeys.list_passkeys(desk.ctx, _member(desk))
    assert stored.name == "Phone"
    signed = passkeys.sign_in_with(
        desk.ctx, response=key.get(passkeys.sign_in_options(desk.ctx)), by=SETUP
    )
    assert signed.staff.email == "nina@staff.test"
    with pytest.raises(InvalidGrant):
        enrollment.open_link(desk.ctx, token)


def test_a_passkey_from_another_site_does_not_use_the_link_up(desk: Desk) -> None:
    token = _token(_add(desk).url)
    other = SoftAuthenticator(rp_id="evil.test", origin="https://evil.test")
    with pytest.raises(AuthenticationFailed):
        enrollment.complete(
            desk.ctx,
            token=token,
            password=PASSWORD,
            code=None,
            passkey_response=other.create(enrollment.passkey_options(desk.ctx, token)),
            by=SETUP,
        )
    assert enrollment.open_link(desk.ctx, token)
    assert staff_service.get_staff(desk.ctx, _member(desk)).password_hash == NO_PASSWORD


def test_the_link_can_be_emailed_instead_of_shown(desk: Desk, broker: Broker) -> None:
    issued = _add(desk, send_email=True)
    assert issued.url is None  # the admin never sees it
    with broker.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.target, outbox.c.event_type, outbox.c.payload)).all()
    mails = [r for r in rows if r.event_type == enrollment.STAFF_ENROLLMENT_EMAIL]
    assert [m.target for m in mails] == ["nina@staff.test"]
    payload = mails[0].payload
    assert "https://broker.test/console/enroll/actas_en_" in str(payload)


def test_what_an_enrollment_refuses(desk: Desk) -> None:
    with pytest.raises(Conflict):  # no roles
        enrollment.add_member(
            desk.ctx, email="x@staff.test", display_name="X", roles=frozenset(), send_email=False,
            by=SETUP,
        )  # fmt: skip
    token = _token(_add(desk).url)
    with pytest.raises(Conflict):  # the email is taken
        _add(desk)
    with pytest.raises(NotFound):
        enrollment.issue(desk.ctx, staff_id="nobody", send_email=False, by=SETUP)
    with pytest.raises(InvalidInput, match="either"):  # both, or neither
        enrollment.complete(
            desk.ctx, token=token, password=PASSWORD, code="123456", passkey_response="{}",
            by=SETUP,
        )  # fmt: skip
    with pytest.raises(InvalidGrant):
        enrollment.open_link(desk.ctx, "actas_en_" + "x" * 43)
    staff_service.disable_staff(desk.ctx, email="nina@staff.test", by=SETUP)
    with pytest.raises(InvalidGrant):  # a disabled member's link does nothing
        enrollment.open_link(desk.ctx, token)
    with pytest.raises(Conflict):
        enrollment.issue(desk.ctx, staff_id=_member(desk), send_email=False, by=SETUP)
