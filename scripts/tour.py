#!/usr/bin/env python3
"""The five-minute tour through the broker's API, for the demo that ``make run`` starts.

    python scripts/tour.py [--subject u-jane] [--scope read --scope write] [--minutes 15]

It signs in as the demo staff member with a TOTP code computed from the enrollment secret
(``.actas/demo-staff.json``), opens a case for Jane, asks to impersonate her, has the second
staff member approve, steps up with a fresh code to start, and prints the one-time handoff
link. Open that link in a browser within a minute: the notes app shows Jane's notes under the
support banner. The script then prints the session and, when you come back, its audit trail.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp

ROOT = Path(__file__).resolve().parent.parent


class Authenticator:
    """What an authenticator app shows, for one enrollment; never the same code twice.

    The broker accepts a code from the previous, current or next 30-second step, and each
    step once: so a quick run of sign-in, approval and step-up uses consecutive steps, and
    only waits when it has used them all up. The last step used is kept in ``state`` so that
    a second run of the tour right after the first waits instead of being refused.
    """

    def __init__(self, secret: str, state: Path, name: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.state = state
        self.name = name
        self.last_step = self._load().get(name, -1)

    def _load(self) -> dict[str, int]:
        try:
            loaded = json.loads(self.state.read_text())
        except (OSError, ValueError):
            return {}
        return (
            {k: v for k, v in loaded.items() if isinstance(v, int)}
            if isinstance(loaded, dict)
            else {}
        )

    def code(self) -> str:
        told = False
        for _ in range(200):  # at most ~100 s: the window moves every 30 s
            now_step = int(time.time()) // 30
            step = max(self.last_step + 1, now_step)
            if step <= now_step + 1:
                self.last_step = step
                self.state.write_text(json.dumps({**self._load(), self.name: step}) + "\n")
                return str(self.totp.at(step * 30))
            if not told:
                print(f"   (waiting for {self.name}'s next authenticator code...)", flush=True)
                told = True
            time.sleep(0.5)
        raise RuntimeError("no fresh authenticator code became available")


class Staff:
    def __init__(self, broker: str, entry: dict[str, str], state: Path) -> None:
        self.email = entry["email"]
        self.password = entry["password"]
        self.authenticator = Authenticator(entry["totp_secret"], state, self.email)
        self.client = httpx.Client(base_url=broker, timeout=10.0)

    def sign_in(self) -> None:
        for attempt in (1, 2):
            body = {"email": self.email, "password": self.password}
            response = self.client.post(
                "/v1/auth/login", json={**body, "code": self.authenticator.code()}
            )
            if response.status_code == 401 and attempt == 1:
                # Most likely this code was used already (by the console, or a run of the
                # tour a moment ago): codes are single use. Try once more with the next one.
                print("   (that code was refused; trying the next one)", flush=True)
                continue
            if response.status_code != 200:
                sys.exit(
                    f"tour: sign-in as {self.email} -> {response.status_code}: {response.text}"
                )
            break
        self.client.headers["Authorization"] = f"Bearer {response.json()['token']}"

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        if response.status_code >= 400:
            sys.exit(f"tour: POST {path} -> {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        if response.status_code >= 400:
            sys.exit(f"tour: GET {path} -> {response.status_code}: {response.text}")
        return response.json()


def step(text: str) -> None:
    print(f"\n== {text}")


def print_audit(reader: Staff, session_id: str) -> None:
    step("6. the session's audit trail (read as security)")
    events: list[dict[str, Any]] = []
    after = 0
    for _ in range(50):  # pages of 1000, oldest first
        page = reader.get("/v1/audit/events", limit=1000, after_seq=after)
        events += page["events"]
        if page["next_after_seq"] is None:
            break
        after = page["next_after_seq"]
    mine = [e for e in events if e["session"] == session_id]

    def happened(event: dict[str, Any]) -> datetime:
        # The app's events carry when the request began; the broker's, when it wrote them.
        data = event.get("data") or {}
        return datetime.fromisoformat(str(data.get("reported_at") or event["at"]))

    # In the order things happened (the chain's order breaks ties): the End request before
    # the session.ended it caused, although its event reached the log later.
    mine.sort(key=lambda e: (happened(e), int(e["seq"])))
    for event in mine:
        data = event.get("data") or {}
        when = happened(event)
        detail = " ".join(
            str(data[k]) for k in ("method", "route", "status", "resource", "detail") if data.get(k)
        )
        if data.get("suppressed"):
            detail += f" suppressed={data['suppressed']}"
        print(f"   {when.astimezone(UTC):%H:%M:%S}  {event['type']:<24} {detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="http://127.0.0.1:8400")
    parser.add_argument("--staff-file", type=Path, default=ROOT / ".actas" / "demo-staff.json")
    parser.add_argument("--subject", default="u-jane", help="the notes app's user id")
    parser.add_argument("--scope", dest="scopes", action="append", help="read (default), write")
    parser.add_argument("--minutes", type=int, default=15)
    parser.add_argument("--no-wait", action="store_true", help="do not wait to show the audit")
    parser.add_argument("--audit", metavar="SESSION", help="only print a session's audit trail")
    args = parser.parse_args(argv)
    scopes = args.scopes or ["read", "write"]

    try:
        entries = json.loads(args.staff_file.read_text())
    except FileNotFoundError:
        sys.exit(f"tour: {args.staff_file} is missing: start the demo with `make run` first")
    state = args.staff_file.with_name("tour-totp.json")
    admin, lead = (Staff(args.broker, e, state) for e in entries[:2])
    if args.audit:
        admin.sign_in()
        print_audit(admin, args.audit)
        return 0

    step(f"1. {admin.email} signs in (password + authenticator code)")
    admin.sign_in()
    print("   signed in")

    step("2. open a case: ticket, reason code, what the customer reported")
    case = admin.post(
        "/v1/cases",
        {
            "application": "notes",
            "subject": args.subject,
            "ticket": "DEMO-1",
            "reason_code": "bug_reproduction",
            "reason": "Export of the quarterly report fails with error 500",
        },
    )
    print(f"   case {case['id']} for {case['subject']} (account {case['account']})")

    step(f"3. ask to impersonate, scopes {' '.join(scopes)}, {args.minutes} minutes")
    request = admin.post(
        "/v1/access-requests",
        {"case": case["id"], "kind": "impersonate", "scopes": scopes, "minutes": args.minutes},
    )
    print(f"   policy says: {request['state']}")
    for reason in request["decision"]["reasons"]:
        print(f"     - {reason}")

    if request["state"] == "pending_approval":
        step(f"4. {lead.email} approves (a second person; never the requester)")
        lead.sign_in()
        body: dict[str, Any] = {"comment": "ok for DEMO-1"}
        if request["decision"]["high_risk"]:
            body["code"] = lead.authenticator.code()  # high risk: approve with a fresh code
        request = lead.post(f"/v1/access-requests/{request['id']}/approve", body)
        print(f"   request is now {request['state']}")
    if request["state"] != "approved":
        sys.exit(f"tour: the request is {request['state']}, not approved")

    step("5. start: step up with a fresh authenticator code")
    started = admin.post(
        f"/v1/access-requests/{request['id']}/start", {"code": admin.authenticator.code()}
    )
    session = started["session"]
    print(f"   session {session['id']} until {session['expires_at']}")
    print("\n   Open this one-time link in your browser within a minute:\n")
    print(f"     {started['redirect_url']}\n")
    print("   You will see the notes app as the customer, under the support banner.")

    if args.no_wait or not sys.stdin.isatty():
        print(
            f"\n   Later: {Path(sys.argv[0]).name} --audit {session['id']}  shows its audit trail."
        )
        return 0
    input("\n   Press Enter after you have looked around (or clicked End) to see the audit... ")
    print_audit(admin, session["id"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
