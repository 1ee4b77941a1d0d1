"""Finding a customer: subjects searched by email, name, id or account, and the card staff
see for one (its account's flags, its live consent, its cases). Read-only: nothing here
changes state, so nothing here is audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from actas.domain.access import Case
from actas.domain.errors import InvalidInput, NotFound
from actas.domain.policy import Consent
from actas.domain.subjects import Account, Subject
from actas.services.context import ServiceContext

MAX_QUERY = 200
MAX_RESULTS = 50


@dataclass(frozen=True)
class SubjectCard:
    subject: Subject
    account: Account
    #: The account's live consent grant that lasts longest (any case, any staff member).
    consent: Consent | None = None


def find_subjects(ctx: ServiceContext, text: str, *, limit: int = MAX_RESULTS) -> list[SubjectCard]:
    """Subjects matching ``text`` (case-insensitive), at most ``limit`` of them."""
    text = text.strip()
    if not text:
        return []
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"the search is {len(text)} characters; at most {MAX_QUERY}")
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"limit {limit} is outside 1..{MAX_RESULTS}")
    with ctx.read() as uow:
        found = uow.subjects.search(text, limit=limit)
    return [SubjectCard(subject=s, account=a) for s, a in found]


def subject_card(ctx: ServiceContext, application_id: str, subject_id: str) -> SubjectCard:
    now = ctx.clock()
    with ctx.read() as uow:
        subject = uow.subjects.get(application_id, subject_id)
        account = uow.accounts.get(application_id, subject.account_id) if subject else None
        grants = uow.grants.for_account(application_id, account.id) if account else []
    if subject is None or account is None:
        raise NotFound(f"no subject {subject_id[:128]} in application {application_id[:63]}")
    live = sorted((g for g in grants if g.live_at(now)), key=lambda g: g.expires_at)
    return SubjectCard(
        subject=subject, account=account, consent=live[-1].consent() if live else None
    )


def subject_cards(
    ctx: ServiceContext, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], SubjectCard]:
    """Cards for ``(application_id, subject_id)`` pairs, in one read; unknown ones are left
    out."""
    cards: dict[tuple[str, str], SubjectCard] = {}
    with ctx.read() as uow:
        for key in set(keys):
            subject = uow.subjects.get(*key)
            account = uow.accounts.get(key[0], subject.account_id) if subject else None
            if subject is not None and account is not None:
                cards[key] = SubjectCard(subject=subject, account=account)
    return cards


def cases_for_subject(ctx: ServiceContext, application_id: str, subject_id: str) -> list[Case]:
    """The subject's cases, newest first."""
    with ctx.read() as uow:
        cases = uow.cases.for_subject(application_id, subject_id)
    return sorted(cases, key=lambda c: c.opened_at, reverse=True)
