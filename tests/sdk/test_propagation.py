"""Propagation: headers to the app's own services, task headers to jobs, and jobs restored,
re-verified and recorded as staff acting for the user."""

from __future__ import annotations

from typing import Any

import pytest

from actas_sdk import ActAs, count_suppressed, current_impersonation, errors, name_resource
from actas_sdk.context import activated
from actas_sdk.propagation import HEADER, TASK_KEY, outgoing_headers, put_token, take_token
from actas_sdk.testing import FakeBroker
from tests.sdk.conftest import WAIT, ManualClock


def live_token(actas: ActAs, fake: FakeBroker) -> tuple[str, str]:
    session = fake.sessions[fake.codes[fake.handoff()][0]]
    token, _ = fake.session_token(session)
    return session.id, token


def test_nothing_travels_for_normal_users() -> None:
    assert outgoing_headers() == {}
    assert put_token({}) == {}
    assert take_token(None) is None
    assert take_token({TASK_KEY: 42}) is None


def test_the_token_travels_during_impersonation(actas: ActAs, fake: FakeBroker) -> None:
    _, token = live_token(actas, fake)
    context = actas.admit_bearer(token).context
    with activated(context):
        assert outgoing_headers() == {HEADER: token}
        celery_headers = put_token({"other": 1})
        rq_meta: dict[str, Any] = put_token({})
    assert celery_headers == {"other": 1, TASK_KEY: token}
    assert take_token(rq_meta) == token


def test_a_job_runs_as_the_staff_member_and_is_recorded(actas: ActAs, fake: FakeBroker) -> None:
    session, token = live_token(actas, fake)
    with actas.job(token, name="export_notes") as context:
        assert context is not None
        assert current_impersonation() == context
        assert context.via == "job"
        name_resource("export:9")
        count_suppressed("email")
    assert current_impersonation() is None
    assert actas.flush()
    (event,) = fake.events
    assert event["kind"] == "job"
    assert event["session"] == session
    assert event["route"] == "export_notes"
    assert event["detail"] == "completed"
    assert event["resource"] == "export:9"
    assert event["suppressed"] == {"email": 1}


def test_a_failing_job_is_recorded_as_failed(actas: ActAs, fake: FakeBroker) -> None:
    _, token = live_token(actas, fake)
    with pytest.raises(ValueError, match="boom"), actas.job(token, name="import"):
        raise ValueError("boom")
    assert actas.flush()
    assert fake.events[0]["detail"] == "failed: ValueError"


def test_a_job_without_a_token_runs_as_usual(actas: ActAs) -> None:
    with actas.job(None, name="nightly") as context:
        assert context is None
        assert current_impersonation() is None


def test_a_job_of_a_revoked_session_is_refused(actas: ActAs, fake: FakeBroker) -> None:
    session, token = live_token(actas, fake)
    fake.revoke(session)
    assert actas.feed.wait_for(lambda: actas.feed.is_revoked(session), WAIT)
    with pytest.raises(errors.SessionRevoked), actas.job(token, name="export"):
        raise AssertionError("must not run")


def test_a_job_token_is_verified_again(actas: ActAs, fake: FakeBroker) -> None:
    _, token = live_token(actas, fake)
    head, _, signature = token.split(".")
    forged = f"{head}.{fake.mint(subject='u-2').split('.')[1]}.{signature}"
    with pytest.raises(errors.BadSignature), actas.job(forged, name="export"):
        raise AssertionError("must not run")


def test_a_queued_job_may_run_after_the_token_expired_within_a_bound(
    actas: ActAs, fake: FakeBroker, sdk_clock: ManualClock
) -> None:
    _, token = live_token(actas, fake)
    sdk_clock.advance(600)
    actas.feed._last_contact = sdk_clock()  # the feed kept pinging meanwhile
    with actas.job(token, name="late") as context:
        assert context is not None
    sdk_clock.advance(3600)
    actas.feed._last_contact = sdk_clock()
    with pytest.raises(errors.TokenExpired), actas.job(token, name="too late"):
        raise AssertionError("must not run")
