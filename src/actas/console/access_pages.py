"""Asking for access (with the policy's decision before submitting), the request page with
its step-up Start, and the approvals inbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from actas.console.passkey_pages import RESPONSE_LIMIT
from actas.console.web import Page, Refused, path, sentence, staff_names, status_for
from actas.domain.access import AccessRequest, Case, RequestState
from actas.domain.errors import ActasError, InvalidInput
from actas.domain.policy import Decision, StaffView, can_approve
from actas.domain.policy_rules import ANY_ADMIN
from actas.services import cases as cases_service
from actas.services import decisions as decisions_service
from actas.services import directory
from actas.services import requests as requests_service
from actas.services import sessions as sessions_service

DEFAULT_MINUTES = 15


@dataclass(frozen=True)
class AccessForm:
    kind: str
    scopes: frozenset[str]
    other_scopes: str
    minutes: str
    break_glass: bool

    def spec(self) -> tuple[str, frozenset[str], int]:
        """(kind, scopes, minutes) for the services; raises InvalidInput on a bad field."""
        try:
            minutes = int(self.minutes.strip())
        except ValueError:
            shown = self.minutes[:20]
            raise InvalidInput(f"minutes must be a whole number, got {shown!r}") from None
        extra = frozenset(self.other_scopes.replace(",", " ").split())
        scopes = self.scopes | extra
        if len(scopes) > 20:
            raise InvalidInput(f"at most 20 scopes, got {len(scopes)}")
        return self.kind, scopes, minutes


def _form(page: Page) -> AccessForm:
    if page.form is None:
        return AccessForm("impersonate", frozenset({"read"}), "", str(DEFAULT_MINUTES), False)
    return AccessForm(
        kind=page.text("kind", limit=20),
        scopes=frozenset(s for s in page.values("scopes") if len(s) <= 80),
        other_scopes=page.text("other_scopes", limit=500),
        minutes=page.text("minutes", limit=10),
        break_glass=page.checked("break_glass"),
    )


def _scope_choices(page: Page) -> list[str]:
    """Scopes the policy names for some role, ``read`` first; ``admin:*`` is not a scope."""
    named = {s for rp in page.ctx.policy.roles.values() for s in rp.scopes if s != ANY_ADMIN}
    return ["read", *sorted(named - {"read"})]


def _decide(page: Page, case_id: str, form: AccessForm) -> tuple[Decision | None, list[str]]:
    try:
        kind, scopes, minutes = form.spec()
        decision = decisions_service.preview(
            page.ctx,
            staff=page.staff,
            case_id=case_id,
            kind=kind,
            scopes=scopes,
            minutes=minutes,
            break_glass=form.break_glass,
        )
    except ActasError as exc:
        return None, [sentence(exc.detail)]
    return decision, []


def _access_page(page: Page, case: Case, form: AccessForm, *, status: int = 200) -> Response:
    decision, decision_errors = _decide(page, case.id, form)
    page.shown_at = path("cases", case.id, "access")
    cards = directory.subject_cards(page.ctx, [(case.application_id, case.subject_id)])
    bg = page.ctx.policy.break_glass
    return page.render(
        "access.html",
        status=status,
        title="Ask for access",
        case=case,
        card=cards.get((case.application_id, case.subject_id)),
        form=form,
        scope_choices=_scope_choices(page),
        break_glass=bg.enabled and bool(page.staff.roles & bg.roles),
        decision=decision,
        decision_errors=decision_errors,
    )


def access_form(page: Page) -> Response:
    case = cases_service.case_detail(page.ctx, page.param("case"), staff=page.staff).case
    return _access_page(page, case, _form(page))


def preview(page: Page) -> Response:
    """The decision alone, for htmx as the form changes."""
    decision, decision_errors = _decide(page, page.param("case"), _form(page))
    return page.render("_decision.html", decision=decision, decision_errors=decision_errors)


def ask(page: Page) -> Response:
    case = cases_service.case_detail(page.ctx, page.param("case"), staff=page.staff).case
    form = _form(page)
    if page.text("action", limit=20) == "preview":
        return _access_page(page, case, form)
    try:
        kind, scopes, minutes = form.spec()
        request = requests_service.request_access(
            page.ctx,
            staff=page.staff,
            case_id=case.id,
            kind=kind,
            scopes=scopes,
            minutes=minutes,
            break_glass=form.break_glass,
            by=page.me.actor,
        )
    except ActasError as exc:
        return _access_page(page, case, form, status=page.failed(exc))
    return page.redirect(path("requests", request.id))


# --- one request -----------------------------------------------------------------------------


def _answer(page: Page, request: AccessRequest) -> tuple[bool, str]:
    """Whether the signed-in staff member may answer, as the policy says (never their own)."""
    return can_approve(
        policy=page.ctx.policy,
        approver=StaffView(id=page.staff.id, roles=page.staff.roles),
        requester_id=request.staff_id,
        decision_high_risk=request.high_risk,
    )


def _request_context(page: Page, request_id: str) -> dict[str, Any]:
    request, answers = requests_service.get_request(page.ctx, request_id)
    case, session_id = cases_service.case_of_request(page.ctx, request)
    cards = directory.subject_cards(page.ctx, [(request.application_id, request.subject_id)])
    session = sessions_service.get_session(page.ctx, session_id) if session_id else None
    return {
        "r": request,
        "answers": answers,
        "approvals": sum(1 for a in answers if a.decision == "approve"),
        "case": case,
        "card": cards.get((request.application_id, request.subject_id)),
        "names": staff_names(page.ctx),
        "mine": request.staff_id == page.staff.id,
        "answer": _answer(page, request),
        "back": "request",
        "session_id": session.id if session else None,
        "session_live": session is not None and session.live_at(page.now()),
    }


def request_page(
    page: Page, *, status: int = 200, status_errors: list[str] | None = None
) -> Response:
    context = _request_context(page, page.param("request"))
    page.shown_at = path("requests", context["r"].id)
    return page.render(
        "request.html",
        status=status,
        title="Access request",
        status_errors=status_errors or [],
        **context,
    )


def request_status(page: Page) -> Response:
    context = _request_context(page, page.param("request"))
    return page.render("_request_status.html", status_errors=[], **context)


def start(page: Page) -> Response:
    try:
        started = sessions_service.start_session(
            page.ctx,
            staff=page.staff,
            request_id=page.param("request"),
            code=page.text("code", limit=16).strip() or None,
            by=page.me.actor,
            assertion=page.text("assertion", limit=RESPONSE_LIMIT) or None,
        )
    except ActasError as exc:
        message = sentence(exc.detail)
        if page.is_htmx:
            context = _request_context(page, page.param("request"))
            return page.render(
                "_request_status.html", status=status_for(exc), status_errors=[message], **context
            )
        return request_page(page, status=status_for(exc), status_errors=[message])
    if started.redirect_url is None:  # an extension: nothing to hand off
        return page.redirect(path("sessions", started.session.id))
    if page.is_htmx:
        # htmx navigates; a redirect after a form post would meet CSP form-action.
        return Response(status_code=200, headers={"HX-Redirect": started.redirect_url})
    return page.render(
        "started.html",
        title="Session started",
        session=started.session,
        redirect_url=started.redirect_url,
    )


# --- approvals -------------------------------------------------------------------------------


def _approver(page: Page) -> None:
    roles = page.ctx.policy.approver_roles
    if not page.staff.roles & roles:
        names = " or ".join(sorted(r.value for r in roles))
        raise Refused(403, "Not for your role", f"Approvals are for the {names} role.")


def approvals(page: Page, *, status: int = 200) -> Response:
    _approver(page)
    page.shown_at = path("approvals")
    pending = requests_service.requests_in(page.ctx, frozenset({RequestState.PENDING_APPROVAL}))
    pending.sort(key=lambda r: r.created_at)
    cards = directory.subject_cards(page.ctx, [(r.application_id, r.subject_id) for r in pending])
    items = []
    for request in pending:
        items.append(
            {
                "request": request,
                "card": cards.get((request.application_id, request.subject_id)),
                "case": cases_service.case_of_request(page.ctx, request)[0],
                "answer": _answer(page, request),
            }
        )
    return page.render(
        "approvals.html",
        status=status,
        title="Approvals",
        items=items,
        names=staff_names(page.ctx),
        back="approvals",
    )


def _answered(page: Page, *, approve: bool) -> Response:
    request_id = page.param("request")
    back = page.text("back", limit=20)
    try:
        if approve:
            requests_service.approve_request(
                page.ctx,
                approver=page.staff,
                request_id=request_id,
                comment=page.text("comment"),
                via="console",
                code=page.text("code", limit=16).strip() or None,
                by=page.me.actor,
                assertion=page.text("assertion", limit=RESPONSE_LIMIT) or None,
            )
        else:
            requests_service.deny_request(
                page.ctx,
                approver=page.staff,
                request_id=request_id,
                comment=page.text("comment"),
                via="console",
                by=page.me.actor,
            )
    except ActasError as exc:
        status = page.failed(exc)
        if back == "approvals":
            return approvals(page, status=status)
        return request_page(page, status=status)
    done = "approved" if approve else "denied"
    if back == "approvals":
        return page.redirect(path("approvals"), done=done)
    return page.redirect(path("requests", request_id), done=done)


def approve(page: Page) -> Response:
    return _answered(page, approve=True)


def deny(page: Page) -> Response:
    return _answered(page, approve=False)
