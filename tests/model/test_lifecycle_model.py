"""A stateful model of the access lifecycle, run by Hypothesis on SQLite and PostgreSQL.

The machine drives the services directly (as ``tests/desk.py`` does) with a frozen clock:
cases, requests, consent grants and support access codes, approvals and denials, step-up,
start, handoff redemption, refresh, app writes, end, revoke, expiry and the sweeper,
disabling staff, customer links, verification codes (asked by staff, read back by the
customer). After every step it checks the invariants of issue 16:

- no token outlives its session, nor the consent its session needed;
- a one-time secret (handoff code, link, access code, verification code) redeems at most
  once; a verification code verifies only while it is the case's newest, unexpired and not
  locked, and then always does;
- nobody approves their own request;
- every state change has exactly one audit event, and a refused step writes none of them;
- ``audit verify`` passes;
- a revoked or ended session is refused from then on and is in the revocation feed (what
  the SDK polls, so it is refused there within the staleness bound).

``MODEL_EXAMPLES`` / ``MODEL_STEPS`` bound the run (small in CI, larger in ``make soak``).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from actas.domain.access import AppEvent
from actas.domain.audit import Actor, AuditQuery
from actas.domain.errors import ActasError
from actas.domain.links import CODE_ATTEMPTS, LinkError, LinkPurpose
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.domain.subjects import AccountFlag
from actas.services import (
    access_codes,
    app_events,
    applications,
    audit,
    cases,
    consent,
    handoff,
    links,
    requests,
    revocations,
    sessions,
    sweep,
    verification,
)
from actas.services import (
    staff as staff_service,
)
from tests.conftest import PgDatabases, require_postgres
from tests.desk import SETUP, Desk, open_desk
from tests.model.world import Databases

EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "6"))
STEPS = int(os.environ.get("MODEL_STEPS", "30"))
HANDOFF = "https://notes.test/actas/handoff"
APP = Actor(id="app:notes")
#: u-1 is on "acme" (no flags: no approval, no consent); u-2 on "bigco" (enhanced controls:
#: the customer's consent and a second person's approval).
SUBJECTS = ("u-1", "u-2")
#: Events a refused step may still write: the refusal itself is what is audited, and the
#: anomaly alert it may raise (``alert.raised``, in the same transaction: repeated failed
#: step-ups are one of the alert rules).
REFUSAL_EVENTS = frozenset(
    {
        "alert.raised",
        "access_code.failed",
        "access_code.locked",
        "access_code.throttled",
        "staff.step_up_failed",
        "link.refused",
        "verification.failed",
        "verification.locked",
    }
)


class Lifecycle(RuleBasedStateMachine):
    databases: Databases

    cases_ = Bundle("cases")
    requests_ = Bundle("requests")
    handoffs = Bundle("handoffs")
    live = Bundle("sessions")
    link_tokens = Bundle("links")
    access_codes_ = Bundle("access_codes")
    verifications_ = Bundle("verifications")

    def __init__(self) -> None:
        super().__init__()
        broker, clock, people = self.databases.broker()
        self.broker = broker
        self.desk: Desk = open_desk(broker, clock, people)
        self.bruno = people.add("bruno", Role.AGENT)
        self.staff = {"alice": self.desk.alice, "lucy": self.desk.lucy, "bruno": self.bruno}
        ctx = self.desk.ctx
        applications.upsert_account(
            ctx,
            app=self.desk.app,
            account_id="bigco",
            name="BigCo",
            flags=frozenset({AccountFlag.ENHANCED_CONTROLS}),
            handoff_url=None,
            by=SETUP,
        )
        applications.upsert_subject(
            ctx,
            app=self.desk.app,
            subject_id="u-2",
            account_id="bigco",
            email="ben@bigco.test",
            email_verified=True,
            display_name="Ben",
            privileged=False,
            by=SETUP,
        )
        self.seen = self._count()
        self.disabled: set[str] = set()
        self.redeemed: set[str] = set()  # one-time secrets used up
        self.tokens: list[tuple[str, datetime]] = []  # (session id, token expiry)
        self.requester: dict[str, str] = {}  # request id -> staff name
        self.ended: set[str] = set()
        self.newest_verification: dict[str, str] = {}  # case id -> verification id
        self.verification_ends: dict[str, datetime] = {}  # verification id -> expiry
        self.wrong_codes: dict[str, int] = {}  # verification id -> wrong codes counted

    def teardown(self) -> None:
        self.broker.engine.dispose()

    # --- helpers -------------------------------------------------------------------------

    def _count(self) -> int:
        return len(self._events(0))

    def _events(self, after: int) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        while True:
            page = audit.read_events(
                self.desk.ctx, AuditQuery(after_seq=after + len(out), limit=1000)
            )
            out.extend(page)
            if len(page) < 1000:
                return out

    def _new(self) -> list[str]:
        fresh = [str(e["type"]) for e in self._events(self.seen)]
        self.seen += len(fresh)
        return fresh

    def _expect(self, primary: str | None, *, also: frozenset[str] = frozenset()) -> list[str]:
        """A step that changed state wrote its event exactly once; a refused one wrote none
        but the refusal's own audit."""
        fresh = self._new()
        if primary is None:
            assert set(fresh) <= REFUSAL_EVENTS, fresh
        else:
            assert fresh.count(primary) == 1, (primary, fresh)
        return fresh

    def _who(self, name: str) -> tuple[Staff, Actor]:
        persona = self.staff[name]
        return self.desk.staff(persona), self.desk.actor(persona)

    # --- rules ---------------------------------------------------------------------------

    @rule(target=cases_, who=st.sampled_from(["alice", "bruno"]), subject=st.sampled_from(SUBJECTS))
    def open_case(self, who: str, subject: str) -> object:
        member, by = self._who(who)
        try:
            case = cases.open_case(
                self.desk.ctx,
                staff=member,
                application_id="notes",
                subject_id=subject,
                ticket="ZD-1",
                reason_code="bug_reproduction",
                reason_text="model",
                by=by,
            )
        except ActasError:
            assert who in self.disabled
            self._expect(None)
            return (who, "")
        self._expect("case.opened")
        return (who, case.id)

    @rule(target=requests_, case=cases_, minutes=st.sampled_from([5, 15, 60]))
    def ask(self, case: tuple[str, str], minutes: int) -> str:
        who, case_id = case
        if not case_id:
            return ""
        member, by = self._who(who)
        try:
            made = requests.request_access(
                self.desk.ctx,
                staff=member,
                case_id=case_id,
                kind="impersonate",
                scopes=frozenset({"read"}),
                minutes=minutes,
                by=by,
            )
        except ActasError:
            self._expect(None)
            return ""
        self._expect("access.requested", also=frozenset())
        self.requester[made.id] = who
        return made.id

    @rule(request=requests_, who=st.sampled_from(["alice", "lucy", "bruno"]), yes=st.booleans())
    def answer(self, request: str, who: str, yes: bool) -> None:
        if not request:
            return
        member, by = self._who(who)
        try:
            if yes:
                requests.approve_request(
                    self.desk.ctx,
                    approver=member,
                    request_id=request,
                    comment="ok",
                    via="api",
                    code=self.desk.code(self.staff[who]),
                    by=by,
                )
            else:
                requests.deny_request(
                    self.desk.ctx,
                    approver=member,
                    request_id=request,
                    comment="no",
                    via="api",
                    by=by,
                )
        except ActasError:
            self._expect(None)
            return
        # Nobody approves (or denies) their own request.
        assert self.requester[request] != who
        self._expect("access.approved" if yes else "access.denied")

    @rule(minutes=st.sampled_from([60, 24 * 60]))
    def customer_grants(self, minutes: int) -> None:
        consent.grant_access(
            self.desk.ctx,
            app=self.desk.app,
            subject_id="u-2",
            minutes=minutes,
            read_only=False,
            by=APP,
        )
        self._expect("consent.granted")

    @rule()
    def customer_revokes(self) -> None:
        grants = [
            g
            for g in consent.grants_of(self.desk.ctx, app=self.desk.app, subject_id="u-2")
            if g.revoked_at is None and g.expires_at > self.desk.clock()
        ]
        if not grants:
            return
        consent.revoke_grant(
            self.desk.ctx, app=self.desk.app, subject_id="u-2", grant_id=grants[0].id, by=APP
        )
        self._expect("consent.revoked")

    @rule(target=access_codes_)
    def customer_issues_code(self) -> str:
        try:
            issued = access_codes.issue_code(
                self.desk.ctx, app=self.desk.app, subject_id="u-2", by=APP
            )
        except ActasError:
            self._expect(None)
            return ""
        self._expect("access_code.issued")
        return issued.code

    @rule(code=access_codes_, case=cases_)
    def staff_enters_code(self, code: str, case: tuple[str, str]) -> None:
        who, case_id = case
        if not code or not case_id:
            return
        member, by = self._who(who)
        try:
            access_codes.enter_code(self.desk.ctx, staff=member, case_id=case_id, code=code, by=by)
        except ActasError:
            self._expect(None)
            return
        assert code not in self.redeemed, "an access code redeemed twice"
        self.redeemed.add(code)
        self._expect("access_code.used")

    @rule(target=handoffs, request=requests_, right_code=st.booleans())
    def start(self, request: str, right_code: bool) -> tuple[str, str]:
        if not request:
            return ("", "")
        who = self.requester[request]
        member, by = self._who(who)
        code = self.desk.code(self.staff[who]) if right_code else "000000"
        try:
            started = sessions.start_session(
                self.desk.ctx,
                staff=member,
                request_id=request,
                code=code,
                by=by,
            )
        except ActasError:
            self._expect(None)
            return ("", "")
        assert right_code, "started without a fresh second factor"
        self._expect("session.started")
        return (started.session.id, started.handoff_code or "")

    @rule(target=live, handoff_code=consumes(handoffs) | handoffs)
    def redeem(self, handoff_code: tuple[str, str]) -> tuple[str, str]:
        session_id, code = handoff_code
        if not code:
            return ("", "")
        try:
            done = handoff.redeem_handoff(
                self.desk.ctx, app=self.desk.app, code=code, handoff_url=HANDOFF, by=APP
            )
        except ActasError:
            self._expect(None)
            return ("", "")
        assert code not in self.redeemed, "a handoff code redeemed twice"
        self.redeemed.add(code)
        assert session_id not in self.ended, "an ended session was handed off"
        self.tokens.append((session_id, done.token.expires_at))
        self._expect("session.handoff_redeemed")
        return (session_id, done.refresh_handle or "")

    @rule(session=live)
    def refresh(self, session: tuple[str, str]) -> None:
        session_id, handle = session
        if not handle:
            return
        try:
            done = handoff.refresh_session(
                self.desk.ctx,
                app=self.desk.app,
                session_id=session_id,
                refresh_handle=handle,
                by=APP,
            )
        except ActasError:
            # A lapsed session is ended by the refusal itself: one end event, nothing else.
            fresh = self._new()
            assert set(fresh) <= {"session.ended"}, fresh
            return
        assert session_id not in self.ended, "an ended session was refreshed"
        self.tokens.append((session_id, done.token.expires_at))
        self._expect("session.refreshed")

    @rule(session=live)
    def app_writes(self, session: tuple[str, str]) -> None:
        session_id, handle = session
        if not handle:
            return
        event = AppEvent(
            id=os.urandom(8).hex(),
            session_id=session_id,
            kind="request",
            at=self.desk.clock(),
            method="POST",
            route="/notes",
            status=201,
        )
        app_events.ingest_app_events(self.desk.ctx, app=self.desk.app, events=[event], by=APP)
        self._new()

    @rule(session=live, revoke=st.booleans(), who=st.sampled_from(["alice", "lucy", "bruno"]))
    def stop(self, session: tuple[str, str], revoke: bool, who: str) -> None:
        session_id, _ = session
        if not session_id:
            return
        member, by = self._who(who)
        try:
            if revoke:
                sessions.revoke_session(
                    self.desk.ctx,
                    staff=member,
                    session_id=session_id,
                    reason="model",
                    by=by,
                )
            else:
                sessions.end_session(self.desk.ctx, staff=member, session_id=session_id, by=by)
        except ActasError:
            self._expect(None)
            return
        assert session_id not in self.ended
        self.ended.add(session_id)
        self._expect("session.revoked" if revoke else "session.ended")

    @rule(seconds=st.sampled_from([30, 5 * 60, 20 * 60, 2 * 3600]))
    def time_passes(self, seconds: int) -> None:
        self.desk.clock.advance(seconds)
        sweep.sweep(self.desk.ctx)
        fresh = self._new()
        assert set(fresh) <= {"session.ended", "access.expired", "break_glass.overdue"}, fresh

    @precondition(lambda self: "bruno" not in self.disabled)
    @rule()
    def disable_bruno(self) -> None:
        staff_service.disable_staff(self.desk.ctx, email=self.bruno.email, by=SETUP)
        self.disabled.add("bruno")
        self._expect("staff.disabled")

    @rule(target=link_tokens, subject=st.sampled_from(SUBJECTS))
    def issue_link(self, subject: str) -> str:
        try:
            links.issue_link(
                self.desk.ctx,
                application=self.desk.app,
                subject_id=subject,
                purpose=LinkPurpose.PASSWORD_RESET,
                by=APP,
            )
        except ActasError:
            self._expect(None)
            return ""
        self._expect("link.issued")
        return _last_link()

    @rule(token=link_tokens)
    def redeem_link(self, token: str) -> None:
        if not token:
            return
        try:
            links.redeem_link(
                self.desk.ctx,
                application=self.desk.app,
                token=token,
                purpose=LinkPurpose.PASSWORD_RESET,
                by=APP,
            )
        except (ActasError, LinkError):
            self._expect(None)
            return
        assert token not in self.redeemed, "a link redeemed twice"
        self.redeemed.add(token)
        self._expect("link.redeemed")

    @rule(target=verifications_, case=cases_)
    def ask_verification(self, case: tuple[str, str]) -> tuple[str, str, str, str]:
        who, case_id = case
        if not case_id:
            return ("", "", "", "")
        member, by = self._who(who)
        try:
            sent = verification.send_code(self.desk.ctx, staff=member, case_id=case_id, by=by)
        except ActasError:
            self._expect(None)
            return ("", "", "", "")
        self._expect("verification.sent")
        self.newest_verification[case_id] = sent.id
        self.verification_ends[sent.id] = sent.expires_at
        return (who, case_id, sent.id, _last_code())

    @rule(asked=verifications_, right=st.booleans())
    def read_back_code(self, asked: tuple[str, str, str, str], right: bool) -> None:
        who, case_id, verification_id, code = asked
        if not verification_id:
            return
        member, by = self._who(who)
        typed = code if right else f"{(int(code) + 1) % 10**6:06d}"
        open_ = (
            self.newest_verification[case_id] == verification_id
            and verification_id not in self.redeemed
            and self.desk.clock() < self.verification_ends[verification_id]
            and self.wrong_codes.get(verification_id, 0) < CODE_ATTEMPTS
        )
        try:
            verification.check_code(
                self.desk.ctx,
                staff=member,
                verification_id=verification_id,
                code=typed,
                by=by,
            )
        except ActasError:
            fresh = self._expect(None)
            assert not (right and open_), "the right code of an open verification was refused"
            if open_:  # a wrong code is counted, and audited once
                assert fresh.count("verification.failed") == 1, fresh
                self.wrong_codes[verification_id] = self.wrong_codes.get(verification_id, 0) + 1
            else:
                assert fresh == [], fresh
            return
        assert right, "a wrong verification code was accepted"
        assert open_, "a verification code verified when used, replaced, expired or locked"
        self.redeemed.add(verification_id)
        self._expect("verification.succeeded")

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def the_log_verifies(self) -> None:
        report = audit.verify(self.desk.ctx)
        assert report.ok, report

    @invariant()
    def no_token_outlives_its_session_or_consent(self) -> None:
        now = self.desk.clock()
        for session_id, expires in self.tokens:
            session = sessions.get_session(self.desk.ctx, session_id)
            assert expires <= session.expires_at
            if session.account_id == "bigco" and session.live_at(now):
                # A live session on an account that needs consent has a live grant under it.
                grants = consent.grants_of(self.desk.ctx, app=self.desk.app, subject_id="u-2")
                assert any(g.revoked_at is None and g.expires_at > now for g in grants), (
                    "a session outlived the consent it needed"
                )

    @invariant()
    def ended_sessions_are_refused_and_announced(self) -> None:
        feed = {r.session_id for r in revocations.backlog(self.desk.ctx)}
        now = self.desk.clock()
        for session_id in self.ended:
            session = sessions.get_session(self.desk.ctx, session_id)
            assert not session.live_at(now)
            if session.expires_at > now:
                assert session_id in feed, "an ended session is missing from the feed"
            ends = [
                e
                for e in self._events(0)
                if e["type"] in ("session.ended", "session.revoked")
                and e.get("session") == session_id
            ]
            assert len(ends) <= 1


def _last_code() -> str:
    """The newest verification code issued (six digits; access codes are eight)."""
    from tests import hygiene

    return next(s for s in reversed(hygiene.RECORDER.issued) if len(s) == 6 and s.isdigit())


def _last_link() -> str:
    from tests import hygiene

    return hygiene.RECORDER.last("actas_lpw_")


@pytest.fixture(params=["sqlite", "postgres"])
def databases(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    pg_databases: PgDatabases | None,
    tmp_path: Path,
) -> Databases:
    if request.param == "postgres":
        require_postgres()
    return Databases(request.param, sqlite_template, pg_databases, tmp_path)


def test_the_lifecycle_model(databases: Databases) -> None:
    machine = type(
        "LifecycleOn" + databases.backend.title(), (Lifecycle,), {"databases": databases}
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=os.environ.get("MODEL_RANDOM") != "1",
        ),
    )
