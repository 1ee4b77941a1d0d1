"""What the middleware does, whatever the framework: one test class, run once per framework.

Each framework's module subclasses :class:`Contract` and says how to build its app and how
its route templates look. Requests go through ``httpx2`` clients (Starlette's TestClient for
ASGI, a WSGI transport for Flask and Django), so every test reads the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

import httpx2
import pytest

from actas_sdk import ActAs
from actas_sdk.testing import FakeBroker
from tests.sdk import apps
from tests.sdk.conftest import WAIT, MakeActAs, ManualClock, advance
from tests.sdk.link_behaviour import LinkContract

BASE = "http://testserver"


class Contract(LinkContract):
    """Subclasses set ``build`` (ActAs -> app) and ``note_route`` (the template of
    ``/notes/{id}`` in that framework), and may override ``client_for``. The link landing
    tests come from :class:`LinkContract`."""

    @staticmethod
    def build(actas: ActAs) -> Any:
        raise NotImplementedError("a framework's suite names its app factory")

    note_route: ClassVar[str]

    def client_for(self, app: Any) -> httpx2.Client:
        return httpx2.Client(
            transport=httpx2.WSGITransport(app=app), base_url=BASE, follow_redirects=True
        )

    @pytest.fixture
    def sdk(self, make_actas: MakeActAs) -> ActAs:
        actas = make_actas(**apps.APP_CONFIG)
        actas.start()
        assert actas.wait_ready(WAIT)
        return actas

    @pytest.fixture
    def client(self, sdk: ActAs) -> Iterator[httpx2.Client]:
        apps.pushes.clear()
        with self.client_for(type(self).build(sdk)) as client:
            yield client

    # --- helpers -----------------------------------------------------------------------------

    def start(
        self, client: httpx2.Client, fake: FakeBroker, *scopes: str, subject: str = "u-1"
    ) -> str:
        """Hand off a session (read-only unless scopes say otherwise); its id."""
        code = fake.handoff(subject=subject, scopes=scopes or ("read",))
        session = fake.codes[code][0]
        response = client.get("/actas/handoff", params={"code": code}, follow_redirects=False)
        assert response.status_code == 303, response.text
        return session

    def events(self, sdk: ActAs, fake: FakeBroker) -> list[dict[str, Any]]:
        assert sdk.flush()
        return list(fake.events)

    # --- normal users --------------------------------------------------------------------------

    def test_normal_users_are_untouched(self, client: httpx2.Client, fake: FakeBroker) -> None:
        response = client.get("/")
        assert response.status_code == 200
        assert response.text == apps.page(None)
        assert "set-cookie" not in response.headers
        assert "actas-banner" not in response.text
        assert client.get("/whoami").json() == {"user": None}
        # no call to the broker for them: only the SDK's start-up (keys, revocation stream)
        assert {path for _, path in fake.calls} <= {"/.well-known/jwks.json", "/v1/revocations"}

    def test_an_unrelated_bearer_goes_to_the_app(self, client: httpx2.Client) -> None:
        response = client.get("/api/me", headers={"Authorization": "Bearer app-own-api-key"})
        assert response.status_code == 200
        assert response.json() == {"subject": None}

    # --- handoff -------------------------------------------------------------------------------

    def test_handoff_sets_the_sdk_cookie_and_redirects_without_the_code(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        code = fake.handoff()
        response = client.get("/actas/handoff", params={"code": code}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        cookie = response.headers["set-cookie"].strip()
        assert cookie.startswith("actas_sdk=")
        for attribute in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=900"):
            assert attribute.lower() in cookie.lower()
        assert "secure" not in cookie.lower()  # served over http in this test
        assert code not in response.headers["location"]

    def test_a_used_or_made_up_code_is_refused(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        code = fake.handoff()
        assert client.get("/actas/handoff", params={"code": code}).status_code == 200
        client.cookies.clear()
        again = client.get("/actas/handoff", params={"code": code}, follow_redirects=False)
        assert again.status_code == 400
        assert "set-cookie" not in again.headers
        assert again.headers["referrer-policy"] == "no-referrer"
        made_up = client.get("/actas/handoff", params={"code": "x" * 300})
        assert made_up.status_code == 400
        assert client.post("/actas/handoff").status_code == 405
        unused = fake.handoff()
        assert client.head("/actas/handoff", params={"code": unused}).status_code == 405
        assert unused in fake.codes  # a HEAD (a link checker) does not use the code up

    # --- the impersonated view -------------------------------------------------------------------

    def test_pages_show_the_banner_and_lose_their_analytics(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        session = self.start(client, fake)
        response = client.get("/")
        assert response.status_code == 200
        body = response.text
        assert body.count("<actas-banner") == 1
        assert 'shadowrootmode="open"' in body
        assert 'is acting as <b title="u-1">u-1</b>' in body  # no display name: the id
        assert 'role="alert"' not in body  # the countdown is not announced every second
        assert '<div class="sr" aria-live="polite" aria-atomic="true"></div>' in body
        assert "user=Jane" in body
        assert "cdn.segment.com" not in body
        assert "var app = 1;" in body  # the app's own scripts stay
        assert response.headers["cache-control"] == "no-store, private"
        (event,) = self.events(sdk, fake)
        assert event["session"] == session
        assert event["suppressed"] == {"analytics": 1}

    def test_the_banner_names_the_staff_member_through_refreshes(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs, sdk_clock: ManualClock
    ) -> None:
        code = fake.handoff(actor_name="Alice <Agent>")
        client.get("/actas/handoff", params={"code": code})
        assert "Staff <b>Alice &lt;Agent&gt;</b> is acting as" in client.get("/").text
        advance(sdk_clock, fake, sdk, 250)  # refreshed: the refresh answer has no name
        assert "Staff <b>Alice &lt;Agent&gt;</b>" in client.get("/").text
        assert fake.sessions[fake.session_for_subject("u-1").id].refreshes == 1

    def test_fragments_get_no_banner(self, client: httpx2.Client, fake: FakeBroker) -> None:
        self.start(client, fake)
        assert client.get("/fragment").text == "<div>fragment</div>"

    def test_the_context_is_everywhere_in_the_request(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        session = self.start(client, fake, "read", "notes:share")
        assert client.get("/whoami").json() == {
            "user": "u-1",
            "subject": "u-1",
            "actor": "staff-1",
            "account": "acct-1",
            "session": session,
            "scopes": ["notes:share", "read"],
            "via": "cookie",
        }

    def test_every_request_is_recorded_without_query_values(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        session = self.start(client, fake)
        assert client.get("/notes/7", params={"secret": "hunter2"}).status_code == 200
        (event,) = self.events(sdk, fake)
        assert event["kind"] == "request"
        assert event["session"] == session
        assert event["method"] == "GET"
        assert event["route"] == self.note_route
        assert event["status"] == 200
        assert event["resource"] == "note:7"
        assert "hunter2" not in str(event)

    def test_static_assets_and_favicons_are_not_recorded(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        """Each page pulls its stylesheets, scripts and a favicon: recorded, they bury the
        requests that matter in the trail. Reads of them are skipped; writes never are."""
        self.start(client, fake)
        for path in ("/static/app.css", "/favicon.ico", "/assets/app.js", "/fonts/a.woff2"):
            client.get(path)
        client.get("/uploads/photo.png")  # images may be the customer's own: recorded
        client.get("/notes/7")
        client.post("/static/upload")  # a write is always recorded (here: refused)
        events = self.events(sdk, fake)
        assert [(e["method"], e.get("status")) for e in events[:2]] == [
            ("GET", 404),  # /uploads/photo.png
            ("GET", 200),
        ]
        # Refused where the framework routes it through the SDK's check (Django answers 404
        # for an unrouted path before any view): recorded either way.
        assert (events[2]["method"], events[2]["status"]) in {("POST", 403), ("POST", 404)}
        assert len(events) == 3
        assert events[1]["route"] == self.note_route
        assert events[1]["resource"] == "note:7"

    def test_the_skip_list_is_configurable(self, make_actas: MakeActAs, fake: FakeBroker) -> None:
        sdk = make_actas(
            **apps.APP_CONFIG, audit_skip_prefixes=("/notes/",), audit_skip_suffixes=()
        )
        sdk.start()
        assert sdk.wait_ready(WAIT)
        with self.client_for(type(self).build(sdk)) as client:
            self.start(client, fake)
            client.get("/notes/7")  # named a resource: recorded even on a skipped path
            client.get("/notes/8/missing")
            client.get("/static/app.css")
        events = self.events(sdk, fake)
        assert [e.get("resource") for e in events] == ["note:7", None]
        assert events[1]["status"] == 404

    def test_side_effects_are_skipped_and_counted(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        assert client.get("/notify").json() == {"result": "sent"}
        self.start(client, fake)
        assert client.get("/notify").json() == {"result": None}
        assert apps.pushes == ["hello"]
        (event,) = self.events(sdk, fake)
        assert event["suppressed"] == {"push": 1}

    # --- scopes and protected actions ------------------------------------------------------------

    def test_read_only_sessions_cannot_write(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        self.start(client, fake)
        response = client.post("/notes")
        assert response.status_code == 403
        (event,) = self.events(sdk, fake)
        assert event["kind"] == "refused"
        assert event["status"] == 403
        assert event["method"] == "POST"
        assert "needs scope 'write'" in event["detail"]

    def test_write_scope_allows_writes(self, client: httpx2.Client, fake: FakeBroker) -> None:
        self.start(client, fake, "read", "write")
        assert client.post("/notes").status_code == 201

    @pytest.mark.parametrize(
        ("scope", "allowed", "refused"),
        [
            ("notes:share", "/notes/7/share", "/notes/7/archive"),  # marked on the view
            ("notes:archive", "/notes/7/archive", "/notes/7/share"),  # mapped in the config
        ],
    )
    def test_finer_scopes_open_their_routes_only(
        self, client: httpx2.Client, fake: FakeBroker, scope: str, allowed: str, refused: str
    ) -> None:
        self.start(client, fake, "read", scope)
        assert client.post(allowed).status_code == 200
        assert client.post(refused).status_code == 403
        assert client.post("/notes").status_code == 403

    @pytest.mark.parametrize(
        ("method", "path", "category"),
        [
            ("POST", "/settings/password", "password"),  # the default patterns
            ("POST", "/profile/phone", "identity"),  # a marked view
            ("GET", "/settings/api-keys/reveal", "api_keys"),  # marked, even when safe
        ],
    )
    def test_protected_actions_are_refused_whatever_the_scopes(
        self,
        client: httpx2.Client,
        fake: FakeBroker,
        sdk: ActAs,
        method: str,
        path: str,
        category: str,
    ) -> None:
        self.start(client, fake, "read", "write")
        response = client.request(method, path)
        assert response.status_code == 403
        (event,) = self.events(sdk, fake)
        assert event["kind"] == "refused"
        assert f"protected action ({category})" in event["detail"]

    def test_an_explicit_opt_out_lifts_the_protection(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        self.start(client, fake, "read", "write")
        assert client.post("/settings/email").status_code == 200

    def test_the_banner_names_the_customer_and_shows_the_id_on_hover(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs, sdk_clock: ManualClock
    ) -> None:
        code = fake.handoff(subject_name="Jane <Doe>")
        client.get("/actas/handoff", params={"code": code})
        expected = 'is acting as <b title="u-1">Jane &lt;Doe&gt;</b>'
        assert expected in client.get("/").text
        advance(sdk_clock, fake, sdk, 250)  # refreshed: the name is still there
        assert expected in client.get("/").text
        assert fake.session_for_subject("u-1").refreshes == 1

    # --- the SDK's own pages -------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("path", "cause", "words"),
        [
            ("/notes", "scope", "not granted"),
            ("/settings/password", "protected", "never allowed during a support session"),
        ],
    )
    def test_a_refused_action_keeps_the_banner_and_names_the_cause(
        self, client: httpx2.Client, fake: FakeBroker, path: str, cause: str, words: str
    ) -> None:
        self.start(client, fake)
        response = client.post(path, headers={"Accept": "text/html"})
        assert response.status_code == 403
        body = response.text
        assert body.count("<actas-banner") == 1  # End stays in reach
        assert f'data-cause="{cause}"' in body
        assert words in body
        assert 'href="https://broker.test/console/"' in body
        assert '<link rel="stylesheet" href="/actas/pages.css?v=' in body
        assert "script-src 'self';" in response.headers["content-security-policy"]
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", body), "an inline script"

    def test_a_used_link_says_so_and_keeps_a_live_session(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        code = fake.handoff()
        assert client.get("/actas/handoff", params={"code": code}).status_code == 200
        # The same link again (a double click, a reload): this browser's session is live.
        again = client.get("/actas/handoff", params={"code": code}, follow_redirects=False)
        assert again.status_code == 400
        assert "This support link cannot be used" in again.text
        assert 'data-cause="used_or_expired"' in again.text
        assert again.text.count("<actas-banner") == 1
        assert '<a class="primary" href="/">Continue the live session</a>' in again.text
        # Without a session in this browser: the cause, the console, no banner.
        client.cookies.clear()
        fresh = client.get("/actas/handoff", params={"code": code}, follow_redirects=False)
        assert 'data-cause="used_or_expired"' in fresh.text
        assert "actas-banner" not in fresh.text
        assert 'href="https://broker.test/console/"' in fresh.text

    def test_a_link_to_an_ended_session_says_so(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        code = fake.handoff()
        fake.revoke(fake.codes[code][0])
        response = client.get("/actas/handoff", params={"code": code}, follow_redirects=False)
        assert response.status_code == 400
        assert 'data-cause="ended"' in response.text
        missing = client.get("/actas/handoff", follow_redirects=False)
        assert 'data-cause="no_code"' in missing.text

    def test_the_status_endpoint_answers_from_the_sdks_own_state(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        assert client.get("/actas/status").json()["live"] is False  # no session here
        session = self.start(client, fake)
        calls = len(fake.calls)
        status = client.get("/actas/status")
        assert status.json() == {"live": True, "reason": None, "message": None}
        assert status.headers["cache-control"] == "no-store"
        fake.revoke(session)
        assert sdk.feed.wait_for(lambda: sdk.feed.is_revoked(session), WAIT)
        after = client.get("/actas/status").json()
        assert after["live"] is False
        assert after["reason"] == "revoked"
        assert "revoked" in after["message"]
        # no broker call per poll (the revocation stream's own reconnects aside)
        assert [c for c in fake.calls[calls:] if c[1] != "/v1/revocations"] == []
        assert [e for e in self.events(sdk, fake) if "status" in (e.get("route") or "")] == []

    def test_the_banner_script_and_stylesheet_are_served_by_the_sdk(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        from actas_sdk import banner

        self.start(client, fake)
        page = client.get("/").text
        assert f'<script src="/actas/banner.js?v={banner.SCRIPT_VERSION}" defer>' in page
        script = client.get("/actas/banner.js", params={"v": banner.SCRIPT_VERSION})
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.content == banner.SCRIPT
        css = client.get("/actas/pages.css")
        assert css.headers["content-type"].startswith("text/css")
        assert client.post("/actas/status").status_code == 405

    def test_the_ended_page_shows_only_known_causes(self, client: httpx2.Client) -> None:
        hostile = client.get("/actas/ended", params={"cause": "<script>alert(1)</script>"})
        assert hostile.status_code == 200
        assert "<script>alert" not in hostile.text
        assert 'data-cause="ended"' in hostile.text
        expired = client.get("/actas/ended", params={"cause": "expired"})
        assert "time limit" in expired.text

    # --- bearer tokens -----------------------------------------------------------------------

    def test_api_routes_accept_a_bearer_actor_token(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        session = fake.handoff()
        fake_session = fake.sessions[fake.codes[session][0]]
        token, _ = fake.session_token(fake_session)
        headers = {"Authorization": f"Bearer {token}"}
        response = client.get("/api/me", headers=headers)
        assert response.json() == {"subject": "u-1"}
        propagated = client.get("/api/me", headers={"X-Actas-Actor-Token": token})
        assert propagated.json() == {"subject": "u-1"}
        # not on other routes: there the header means nothing to the SDK
        assert client.get("/whoami", headers=headers).json() == {"user": None}
        events = self.events(sdk, fake)
        assert [e["route"] for e in events] == ["/api/me", "/api/me"]

    def test_a_bad_bearer_actor_token_is_refused_with_a_problem(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        header, _, signature = fake.mint(subject="u-1").split(".")
        _, payload, _ = fake.mint(subject="u-2").split(".")
        forged = f"{header}.{payload}.{signature}"  # u-2's claims under u-1's signature
        response = client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "bad_signature"
        assert "set-cookie" not in response.headers

    # --- ending -------------------------------------------------------------------------------

    def test_a_revoked_session_ends_on_the_next_request(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        session = self.start(client, fake)
        assert client.get("/").status_code == 200
        fake.revoke(session)
        assert sdk.feed.wait_for(lambda: sdk.feed.is_revoked(session), WAIT)
        response = client.get("/")
        assert response.status_code == 401
        assert "Support session ended" in response.text
        assert 'data-cause="revoked"' in response.text
        assert 'href="https://broker.test/console/"' in response.text
        assert "actas-banner" not in response.text
        assert 'actas_sdk=""' in response.headers["set-cookie"]
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert client.get("/").text == apps.page(None)  # the cookie is gone

    def test_a_stale_feed_fails_closed_for_staff_only(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs, sdk_clock: ManualClock
    ) -> None:
        self.start(client, fake)
        assert client.get("/").status_code == 200
        fake.available = False
        fake.drop_streams()
        assert sdk.feed.wait_for(lambda: not sdk.feed.connected, WAIT)
        sdk_clock.advance(29)
        assert client.get("/").status_code == 200  # within the staleness limit
        sdk_clock.advance(2)
        response = client.get("/")
        assert response.status_code == 401
        assert "could not confirm" in response.text
        assert 'data-cause="unconfirmed"' in response.text
        with httpx2.Client(transport=client._transport, base_url=BASE) as anonymous:
            assert anonymous.get("/").text == apps.page(None)

    def test_the_end_button_ends_the_session_at_the_broker(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs
    ) -> None:
        session = self.start(client, fake)
        page = client.get("/").text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        cookie = client.cookies["actas_sdk"]
        assert client.post("/actas/end").status_code == 403  # no anti-forgery value
        cross = client.post(
            "/actas/end", data={"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403
        assert fake.sessions[session].ended is None
        response = client.post("/actas/end", data={"csrf": csrf}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/actas/ended?cause=ended"  # not the app's sign-in
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert fake.sessions[session].ended == "ended_by_staff"
        landing = client.get(response.headers["location"])
        assert landing.status_code == 200
        assert "<h1>Support session ended</h1>" in landing.text
        assert 'href="https://broker.test/console/">Back to the support console' in landing.text
        assert "actas-banner" not in landing.text
        client.cookies.set("actas_sdk", cookie)
        replay = client.get("/")
        assert replay.status_code == 401

    def test_the_end_is_dated_before_the_broker_ends_the_session(
        self,
        client: httpx2.Client,
        fake: FakeBroker,
        sdk: ActAs,
        sdk_clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The trail sorts by when things happened: the End request began before the broker
        recorded ``session.ended``, so its event carries the earlier time."""
        session = self.start(client, fake)
        csrf = client.get("/").text.split('name="csrf" value="')[1].split('"')[0]
        began = sdk_clock()
        broker_end = sdk.client.end

        def slow_end(session_id: str, refresh_handle: str) -> None:
            sdk_clock.advance(3)  # the broker records the end three seconds later
            broker_end(session_id, refresh_handle)

        monkeypatch.setattr(sdk.client, "end", slow_end)
        response = client.post("/actas/end", data={"csrf": csrf}, follow_redirects=False)
        assert response.status_code == 303
        assert fake.sessions[session].ended == "ended_by_staff"
        ends = [e for e in self.events(sdk, fake) if e.get("detail") == "ended by staff"]
        assert len(ends) == 1
        at = datetime.fromisoformat(str(ends[0]["at"]).replace("Z", "+00:00"))
        assert at.timestamp() == pytest.approx(began, abs=0.001), (ends[0], began)

    @pytest.mark.parametrize(
        "form",
        [
            {"csrf": "\u00e9" * 24},  # percent-encoded UTF-8
            {"csrf": "\u0663" * 24},  # Arabic-Indic digits
            {"csrf": "\uff21" * 24},  # fullwidth letters
            b"csrf=\xe9\xe9\xe9",  # raw Latin-1 bytes, not percent-encoded
        ],
    )
    def test_a_non_ascii_end_token_is_refused_without_a_server_error(
        self, client: httpx2.Client, fake: FakeBroker, form: dict[str, str] | bytes
    ) -> None:
        session = self.start(client, fake)
        if isinstance(form, bytes):
            response = client.post(
                "/actas/end",
                content=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            response = client.post("/actas/end", data=form)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert fake.sessions[session].ended is None
        assert client.get("/").status_code == 200  # the session goes on

    def test_a_token_close_to_expiry_is_refreshed(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs, sdk_clock: ManualClock
    ) -> None:
        session = self.start(client, fake)
        first = client.cookies["actas_sdk"]
        advance(sdk_clock, fake, sdk, 250)  # 50 s left: inside refresh_before_seconds
        response = client.get("/whoami")
        assert response.json()["session"] == session
        assert fake.sessions[session].refreshes == 1
        assert client.cookies["actas_sdk"] != first
        assert client.get("/whoami").status_code == 200
        assert fake.sessions[session].refreshes == 1

    def test_an_expired_token_is_refreshed_while_the_session_lives(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs, sdk_clock: ManualClock
    ) -> None:
        session = self.start(client, fake)
        advance(sdk_clock, fake, sdk, 600)  # the token is long expired, the session is not
        assert client.get("/whoami").json()["session"] == session
        advance(sdk_clock, fake, sdk, 400)  # now past the session's hard expiry
        assert client.get("/whoami").status_code == 401

    def test_a_refused_refresh_ends_the_impersonation(
        self, client: httpx2.Client, fake: FakeBroker, sdk: ActAs, sdk_clock: ManualClock
    ) -> None:
        session = self.start(client, fake)
        fake.sessions[session].ended = "idle"  # ended at the broker; no revocation seen yet
        advance(sdk_clock, fake, sdk, 250)
        assert client.get("/whoami").status_code == 401

    def test_a_subject_the_app_does_not_know_is_refused(
        self, client: httpx2.Client, fake: FakeBroker
    ) -> None:
        self.start(client, fake, subject="u-404")
        response = client.get("/")
        assert response.status_code == 401
        assert "could not be opened" in response.text
        assert 'data-cause="not_loaded"' in response.text
