"""Assist mode in the SDK: the ``kind`` claim is required and carried, an assist session
runs only views marked with an admin action it names, and ``admin_action`` lets that
action's own email through while every other side effect stays suppressed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from actas_sdk import ActAs, errors
from actas_sdk.context import activated, admin_action, suppressed
from actas_sdk.markers import requires_scope
from actas_sdk.testing import FakeBroker


def test_the_kind_claim_is_required_and_carried(actas: ActAs, fake: FakeBroker) -> None:
    assist = actas.verifier.verify(fake.mint(kind="assist"), actas.clock()).context
    assert assist.is_assist
    assert assist.kind == "assist"
    claims = fake.claims()
    del claims["kind"]
    with pytest.raises(errors.MissingClaim, match="kind"):
        actas.verifier.verify(fake.sign(claims), actas.clock())
    with pytest.raises(errors.MissingClaim, match="kind"):
        actas.verifier.verify(fake.mint(kind="superuser"), actas.clock())


def test_assist_runs_only_the_admin_actions_it_names(actas: ActAs, fake: FakeBroker) -> None:
    scopes = ("admin:verify_email",)
    assist = actas.verifier.verify(fake.mint(kind="assist", scopes=scopes), actas.clock())
    context = assist.context

    @requires_scope("admin:verify_email")
    def resend() -> None: ...

    @requires_scope("admin:reset_mfa")
    def reset() -> None: ...

    def notes() -> None: ...

    assert actas.check(context, "POST", "/resend", resend) is None
    assert actas.check(context, "GET", "/resend", resend) is None
    for method, view in (("POST", reset), ("GET", notes), ("POST", notes)):
        refusal = actas.check(context, method, "/x", view)
        assert refusal is not None
        assert refusal.reason == "assist"
    # The same scopes under impersonate keep the impersonate rules (reading is allowed).
    same = actas.verifier.verify(fake.mint(scopes=scopes), actas.clock()).context
    assert actas.check(same, "GET", "/notes", notes) is None


def test_admin_action_lets_its_own_effect_through_only_in_assist(
    actas: ActAs, fake: FakeBroker
) -> None:
    assist = actas.verifier.verify(
        fake.mint(kind="assist", scopes=("admin:verify_email",)), actas.clock()
    ).context
    with activated(assist):
        assert suppressed()
        with admin_action("admin:verify_email"):
            assert not suppressed()
        assert suppressed()
        with pytest.raises(errors.Refused), admin_action("admin:reset_mfa"):
            pass
    impersonate = actas.verifier.verify(
        fake.mint(scopes=("admin:verify_email",)), actas.clock()
    ).context
    with activated(impersonate), pytest.raises(errors.Refused), admin_action("admin:verify_email"):
        pass


def test_the_banner_says_assisting_as_yourself_in_assist_and_acting_as_otherwise(
    actas: ActAs, fake: FakeBroker
) -> None:
    from actas_sdk import banner

    def markup(kind: str) -> str:
        context = actas.verifier.verify(fake.mint(kind=kind), actas.clock()).context
        rendered = banner.render(
            replace(context, actor_name="Alice", subject_name="Jane"),
            now=actas.clock(),
            end_path="/actas/end",
            csrf="x",
            script_path="/actas/banner.js",
            status_path="/actas/status",
            console_url="https://broker.test/console",
            poll_seconds=3,
        )
        return rendered.decode()

    assist = markup("assist")
    assert "You (<b>Alice</b>) are assisting <b title=" in assist
    assert "as yourself" in assist
    assert "is acting as" not in assist
    impersonate = markup("impersonate")
    assert "Staff <b>Alice</b> is acting as <b title=" in impersonate
    assert "assisting" not in impersonate
