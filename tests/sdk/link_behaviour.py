"""The landing page of one-time links (``/actas/link``), part of the behaviour suite: every
framework's :class:`~tests.sdk.behaviour.Contract` runs these through its own adapter."""

from __future__ import annotations

import re

import httpx2

from actas_sdk import ActAs, LinkLanding, RedeemedLink
from actas_sdk.testing import FakeBroker
from tests.sdk.conftest import ManualClock

SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
_HIDDEN = re.compile(r'<input type="hidden" name="t" value="([^"]+)">')


class LinkContract:
    """Mixed into ``Contract``; uses its ``client``, ``sdk`` and ``fake`` fixtures."""

    @staticmethod
    def handle_resets(sdk: ActAs) -> list[RedeemedLink]:
        seen: list[RedeemedLink] = []

        @sdk.on_link("password_reset")
        def reset(link: RedeemedLink) -> LinkLanding:
            seen.append(link)
            return LinkLanding("/reset", [("Set-Cookie", f"grant={link.subject_id}; Path=/")])

        return seen

    @staticmethod
    def emailed(sdk: ActAs, fake: FakeBroker, purpose: str = "password_reset") -> str:
        fake.add_subject("u-1")
        sdk.issue_link("u-1", purpose)
        return fake.last_link("u-1")

    @staticmethod
    def assert_private(response: httpx2.Response) -> None:
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"

    @staticmethod
    def cause(response: httpx2.Response) -> str:
        found = re.search(r'data-cause="([a-z_]+)"', response.text)
        assert found is not None, response.text
        return found.group(1)

    def test_a_link_get_only_asks_for_confirmation(
        self, client: httpx2.Client, sdk: ActAs, fake: FakeBroker
    ) -> None:
        seen = self.handle_resets(sdk)
        token = self.emailed(sdk, fake)
        page = client.get("/actas/link", params={"t": token})
        assert page.status_code == 200
        self.assert_private(page)
        assert self.cause(page) == "confirm"
        assert "Reset your password" in page.text
        assert '<form method="post" action="/actas/link"' in page.text
        assert _HIDDEN.findall(page.text) == [token]
        assert client.head("/actas/link", params={"t": token}).status_code == 405
        # a mail scanner's prefetch (GET, HEAD) used nothing up and told the app nothing
        assert not fake.links.links[token].used
        assert seen == []

    def test_the_confirmation_redeems_the_link_once_and_hands_it_to_the_app(
        self, client: httpx2.Client, sdk: ActAs, fake: FakeBroker
    ) -> None:
        seen = self.handle_resets(sdk)
        token = self.emailed(sdk, fake)
        done = client.post(
            "/actas/link", data={"t": token}, headers=SAME_SITE, follow_redirects=False
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/reset"
        assert "grant=u-1" in done.headers["set-cookie"], done.headers
        self.assert_private(done)
        assert [(link.subject_id, link.purpose) for link in seen] == [("u-1", "password_reset")]
        again = client.post("/actas/link", data={"t": token}, headers=SAME_SITE)
        assert again.status_code == 410
        assert self.cause(again) == "link_used"
        self.assert_private(again)
        assert len(seen) == 1

    def test_a_confirmation_from_another_site_is_refused_and_uses_nothing(
        self, client: httpx2.Client, sdk: ActAs, fake: FakeBroker
    ) -> None:
        seen = self.handle_resets(sdk)
        token = self.emailed(sdk, fake)
        for headers in (
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {},  # neither header: cannot tell, so no
        ):
            refused = client.post("/actas/link", data={"t": token}, headers=headers)
            assert refused.status_code == 403, headers
            assert self.cause(refused) == "link_cross_site"
        assert not fake.links.links[token].used
        assert seen == []
        # a browser without Sec-Fetch-Site still sends Origin, which must be this host
        origin = {"Origin": "http://testserver"}
        ok = client.post("/actas/link", data={"t": token}, headers=origin, follow_redirects=False)
        assert ok.status_code == 303
        assert len(seen) == 1

    def test_an_expired_or_replaced_link_says_so(
        self, client: httpx2.Client, sdk: ActAs, fake: FakeBroker, sdk_clock: ManualClock
    ) -> None:
        seen = self.handle_resets(sdk)
        old = self.emailed(sdk, fake)
        new = self.emailed(sdk, fake)
        replaced = client.post("/actas/link", data={"t": old}, headers=SAME_SITE)
        assert (replaced.status_code, self.cause(replaced)) == (410, "link_expired")
        sdk_clock.advance(901)
        expired = client.post("/actas/link", data={"t": new}, headers=SAME_SITE)
        assert (expired.status_code, self.cause(expired)) == (410, "link_expired")
        assert seen == []

    def test_unknown_malformed_and_unhandled_links_are_refused(
        self, client: httpx2.Client, sdk: ActAs, fake: FakeBroker
    ) -> None:
        seen = self.handle_resets(sdk)
        made_up = "actas_lpw_" + "A" * 43
        unknown = client.post("/actas/link", data={"t": made_up}, headers=SAME_SITE)
        assert (unknown.status_code, self.cause(unknown)) == (400, "link_unknown")
        for bad in ("nonsense", "actas_lpw_short", "x" * 300, "actas_lzz_" + "A" * 43):
            page = client.get("/actas/link", params={"t": bad})
            assert (page.status_code, self.cause(page)) == (400, "link_unknown"), bad
            posted = client.post("/actas/link", data={"t": bad}, headers=SAME_SITE)
            assert posted.status_code == 400
        assert client.get("/actas/link").status_code == 400
        # a magic sign-in link where the app handles none: never redeemed here
        magic = self.emailed(sdk, fake, "magic_signin")
        for response in (
            client.get("/actas/link", params={"t": magic}),
            client.post("/actas/link", data={"t": magic}, headers=SAME_SITE),
        ):
            assert (response.status_code, self.cause(response)) == (404, "link_not_here")
        assert not fake.links.links[magic].used
        assert seen == []
