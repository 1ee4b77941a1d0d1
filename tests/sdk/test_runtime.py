"""The core without a framework: configuration, the sealed cookie, handoff failures and one
refresh per session however many requests ask at once."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from actas_sdk import ActAs, Config, errors
from actas_sdk.testing import FakeBroker
from tests.sdk.conftest import WAIT, MakeActAs, ManualClock, advance


def handoff(actas: ActAs, fake: FakeBroker, **kwargs: object) -> tuple[str, str]:
    """(session id, cookie value) after a handoff."""
    code = fake.handoff(**kwargs)  # type: ignore[arg-type]
    session = fake.codes[code][0]
    reply = actas.handoff(code)
    assert reply.status == 303
    cookie = dict(reply.headers)["Set-Cookie"]
    return session, cookie.split(";")[0].split("=", 1)[1]


def test_config_names_the_field_and_the_value(fake: FakeBroker) -> None:
    with pytest.raises(errors.ConfigError, match=r"broker_url has value 'ftp://x'"):
        fake.config(broker_url="ftp://x")
    with pytest.raises(errors.ConfigError, match=r"after_handoff_path has value '//evil\.test'"):
        fake.config(after_handoff_path="//evil.test")
    with pytest.raises(errors.ConfigError, match="leeway_seconds"):
        fake.config(leeway_seconds=0)
    with pytest.raises(errors.ConfigError, match="route pattern"):
        fake.config(api_routes=("api/**",))


def test_secrets_stay_out_of_reprs(fake: FakeBroker) -> None:
    config = fake.config(cookie_secret="s" * 32)
    assert fake.credential not in repr(config)
    assert "s" * 32 not in repr(config)
    assert repr(config.credential) == "Secret('**********')"


def test_derived_paths_and_cookie_flags(fake: FakeBroker) -> None:
    config = fake.config(handoff_url="https://notes.test/support/actas/handoff")
    assert config.handoff_path == "/support/actas/handoff"
    assert config.end_route == "/support/actas/end"
    assert config.secure_cookie
    assert not fake.config().secure_cookie


def test_https_apps_get_a_secure_cookie(make_actas: MakeActAs, fake: FakeBroker) -> None:
    actas = make_actas(handoff_url="https://notes.test/actas/handoff")
    reply = actas.handoff(fake.handoff())
    assert "; Secure" in dict(reply.headers)["Set-Cookie"]


def test_the_handoff_fails_closed(make_actas: MakeActAs, fake: FakeBroker) -> None:
    actas = make_actas()
    code = fake.handoff()
    fake.available = False
    down = actas.handoff(code)
    assert down.status == 503
    assert not any(name == "Set-Cookie" for name, _ in down.headers)
    assert ("Referrer-Policy", "no-referrer") in down.headers
    fake.available = True
    assert actas.handoff(code).status == 303  # the code was not used up


def test_a_tampered_or_transplanted_sealed_part_is_refused(actas: ActAs, fake: FakeBroker) -> None:
    _, cookie = handoff(actas, fake)
    _, other = handoff(actas, fake)
    token, sealed = cookie.split("~")
    with pytest.raises(errors.BadCookie):
        actas.admit_cookie(f"{token}~{other.split('~')[1]}")  # another session's handle
    with pytest.raises(errors.BadCookie):
        actas.admit_cookie(f"{token}~{sealed[:-2]}AA")
    with pytest.raises(errors.BadCookie):
        actas.admit_cookie(token)
    assert actas.admit_cookie(cookie).context.via == "cookie"


def test_another_app_cannot_open_our_cookie(make_actas: MakeActAs, fake: FakeBroker) -> None:
    ours = make_actas()
    _, cookie = handoff(ours, fake)
    theirs = make_actas(cookie_secret="another-apps-secret-value")
    theirs.keys.refresh()
    with pytest.raises(errors.BadCookie):
        theirs.cookies.open(cookie.split("~")[0], cookie.split("~")[1])


def test_concurrent_requests_refresh_a_session_once(
    actas: ActAs, fake: FakeBroker, sdk_clock: ManualClock
) -> None:
    session, cookie = handoff(actas, fake)
    advance(sdk_clock, fake, actas, 250)
    barrier = threading.Barrier(8)
    results: list[str | None] = []
    lock = threading.Lock()

    def request() -> None:
        barrier.wait(WAIT)
        admission = actas.admit_cookie(cookie)
        with lock:
            results.append(admission.set_cookie)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert fake.sessions[session].refreshes == 1
    assert len(results) == 8
    assert len(set(results)) == 1
    assert results[0] is not None


def test_a_broker_down_at_refresh_time_keeps_a_still_valid_token(
    actas: ActAs, fake: FakeBroker, sdk_clock: ManualClock
) -> None:
    session, cookie = handoff(actas, fake)
    advance(sdk_clock, fake, actas, 250)
    fake.available = False
    admission = actas.admit_cookie(cookie)
    assert admission.set_cookie is None
    refresh_calls = len([c for c in fake.calls if c[1].endswith("/refresh")])
    actas.admit_cookie(cookie)  # no second attempt within the retry delay
    assert len([c for c in fake.calls if c[1].endswith("/refresh")]) == refresh_calls
    assert fake.sessions[session].refreshes == 0


def test_the_issuer_may_differ_from_the_api_url(fake: FakeBroker, sdk_clock: ManualClock) -> None:
    config = replace(fake.config(), broker_url="http://127.0.0.1:9", issuer=fake.issuer)
    assert isinstance(config, Config)
    assert config.expected_issuer == fake.issuer


def test_the_default_cookie_is_not_one_of_the_brokers() -> None:
    """Cookies ignore ports: on one host (the demo, any single-host deployment) an SDK cookie
    named like the broker's staff cookie signs the console and the app out of each other."""
    from actas.http import callers as deps
    from actas_sdk.testing import FakeBroker

    name = FakeBroker().config().cookie_name
    assert name == "actas_sdk"
    assert name not in {deps.SESSION_COOKIE, "actas_session", "__Host-actas_staff"}
    assert FakeBroker().config(cookie_name="myapp_support").cookie_name == "myapp_support"


@pytest.mark.parametrize(
    ("detail", "cause"),
    [
        ("HTTP 400: the handoff code is unknown, used, expired or not yours", "used_or_expired"),
        ("HTTP 400: the session has ended", "ended"),
        ("HTTP 400: the session has ended (revoked)", "ended"),
        ("HTTP 400: the handoff URL does not match", "other_app"),
        ("HTTP 400: the handoff code was already used", "used"),
        ("HTTP 400: the handoff code has expired", "link_expired"),
        ("HTTP 400: the handoff code is not valid", "used_or_expired"),
    ],
)
def test_the_brokers_refusals_of_a_link_are_named(detail: str, cause: str) -> None:
    from actas_sdk._pages import CAUSES, handoff_cause

    assert handoff_cause(detail) == cause
    assert cause in CAUSES


def test_names_too_long_for_the_cookie_are_dropped_not_the_session(fake: FakeBroker) -> None:
    from actas_sdk._cookie import CookieJar, Sealed

    jar = CookieJar(fake.config())
    huge = "\U0001f600" * 600  # 2,400 bytes of UTF-8 each
    sealed = jar.seal("s-1", Sealed("actas_rh_x", 2e9, huge, huge))
    assert len(sealed) <= 2048
    opened = jar.open("s-1", sealed)
    assert (opened.refresh_handle, opened.actor_name, opened.subject_name) == (
        "actas_rh_x",
        None,
        None,
    )
    named = jar.open("s-1", jar.seal("s-1", Sealed("actas_rh_x", 2e9, "Alice", "Jane Doe")))
    assert (named.actor_name, named.subject_name) == ("Alice", "Jane Doe")
