"""The quarterly access review: its figures for a generated quarter match counts made
independently from the generated rows; its files; the sign-off and its audit event."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from actas.bootstrap import Broker
from actas.cli import main
from actas.domain.audit import Actor
from actas.domain.errors import Conflict, Forbidden, InvalidInput
from actas.domain.roles import Role
from actas.http import review_report
from actas.services import access_review
from actas.services import staff as staff_service
from actas.settings import Settings
from tests.conftest import People
from tests.review_data import Expected, generate

BY = Actor(id="test-reviewer")


@pytest.fixture
def quarter(broker: Broker) -> Expected:
    return generate(broker.engine)


def test_the_review_matches_counts_made_from_the_generated_rows(
    broker: Broker, quarter: Expected
) -> None:
    review = access_review.build(broker.services, "2026q3")
    assert review.quarter == "2026Q3"
    assert review.sessions_total == quarter.sessions == 3000
    assert review.by_staff == dict(quarter.by_staff)
    assert len(review.by_staff) >= 30
    assert review.by_account == dict(quarter.by_account)
    assert len(review.by_account) >= 250
    assert review.by_reason == dict(quarter.by_reason)
    assert review.by_kind == dict(quarter.by_kind)
    assert review.approvals_by_approver == {
        k: {"approve": v["approve"], "deny": v["deny"]} for k, v in quarter.approvals.items()
    }
    assert review.approvals_total == sum(sum(v.values()) for v in quarter.approvals.values())
    assert len(review.break_glass) == quarter.break_glass > 20
    assert sum(b.reviewed_by is not None for b in review.break_glass) == quarter.reviewed
    assert review.alerts_by_rule == {
        k: {"raised": v["raised"], "acknowledged": v["acknowledged"]}
        for k, v in quarter.alerts.items()
    }
    # The five who never used their eligibility; the disabled leaver is not listed.
    assert {s.staff_id for s in review.unused_eligibility} == quarter.unused
    # Largest first: the order a reviewer reads and the charts draw.
    counts = list(review.by_account.values())
    assert counts == sorted(counts, reverse=True)


def test_the_files_carry_the_same_figures(broker: Broker, quarter: Expected) -> None:
    review = access_review.build(broker.services, "2026Q3")
    data = json.loads(review_report.to_json(review))
    assert data["digest"] == review.digest
    assert data["sessions_by_staff"] == dict(quarter.by_staff)
    rows = list(csv.DictReader(io.StringIO(review_report.to_csv(review))))
    per_account = {r["key"]: int(r["value"]) for r in rows if r["section"] == "sessions_by_account"}
    assert per_account == dict(quarter.by_account)
    html = review_report.document(review)
    assert html.count("<svg") == 4
    assert "<script" not in html
    assert "style=" not in html
    assert "https://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_labels_from_host_apps_are_escaped_and_csv_formulas_defused() -> None:
    from datetime import UTC, datetime

    from actas.domain import access_review as rules
    from actas.domain.access_review import SessionFact

    evil = '=HYPERLINK("x")<script>alert(1)</script>'
    review = rules.build(
        rules.parse_quarter("2026Q3"),
        sessions=[SessionFact("s1", evil, "bug", "assist")],
        approvals=[], break_glass=[], alerts=[], eligible=[],
    )  # fmt: skip
    assert "<script>" not in review_report.document(review)
    assert "&lt;script&gt;" in review_report.document(review)
    cells = [r["key"] for r in csv.DictReader(io.StringIO(review_report.to_csv(review)))]
    assert f"'{evil}" in cells  # a spreadsheet shows it as text, never runs it
    assert rules.quarter_of(datetime(2026, 12, 31, tzinfo=UTC)).label == "2026Q4"


@pytest.mark.parametrize("text", ["2026Q5", "26Q1", "2026-Q1", "", "2026Q1; drop"])
def test_a_bad_quarter_is_invalid_input(broker: Broker, text: str) -> None:
    with pytest.raises(InvalidInput):
        access_review.build(broker.services, text)


def test_security_signs_off_once_with_an_audit_event(
    broker: Broker, people: People, quarter: Expected
) -> None:
    ctx = broker.services
    sam = staff_service.get_staff(ctx, people.add("sam", Role.SECURITY).id)
    review = access_review.build(ctx, "2026Q3")
    with pytest.raises(Conflict):  # figures other than the ones shown: refused
        access_review.sign_off(
            ctx, quarter="2026Q3", digest="0" * 64, reviewer=sam, comment="ok", by=BY
        )
    done = access_review.sign_off(
        ctx, quarter="2026Q3", digest=review.digest, reviewer=sam, comment="checked", by=BY
    )
    assert done.digest == review.digest
    assert [s.reviewer_id for s in access_review.signoffs(ctx, "2026Q3")] == [sam.id]
    with pytest.raises(Conflict):
        access_review.sign_off(
            ctx, quarter="2026Q3", digest=review.digest, reviewer=sam, comment="again", by=BY
        )
    from actas.domain.audit import AuditQuery
    from actas.services import audit as audit_service

    events = audit_service.read_events(ctx, AuditQuery(type="access_review.signed"))
    assert len(events) == 1
    assert events[0]["data"]["digest"] == review.digest


def test_only_security_signs_and_only_a_finished_quarter(broker: Broker, people: People) -> None:
    ctx = broker.services
    agent = staff_service.get_staff(ctx, people.add("ann", Role.AGENT, Role.LEAD).id)
    sam = staff_service.get_staff(ctx, people.add("sam", Role.SECURITY).id)
    digest = access_review.build(ctx, "2026Q3").digest
    with pytest.raises(Forbidden):
        access_review.sign_off(
            ctx, quarter="2026Q3", digest=digest, reviewer=agent, comment="ok", by=BY
        )
    current = access_review.build(ctx, "2026Q4").digest  # the clock is in 2026Q4
    with pytest.raises(Conflict):
        access_review.sign_off(
            ctx, quarter="2026Q4", digest=current, reviewer=sam, comment="ok", by=BY
        )
    with pytest.raises(InvalidInput):
        access_review.sign_off(
            ctx, quarter="2026Q3", digest=digest, reviewer=sam, comment=" ", by=BY
        )
    assert access_review.signoffs(ctx, "2026Q3") == []


def test_cli_writes_each_format(
    settings: Settings, quarter: Expected, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "ACTAS_DATABASE_URL": settings.database_url,
        "ACTAS_KEY_FILE": str(settings.key_file),
        "ACTAS_PUBLIC_URL": "https://broker.test",
    }
    runner = CliRunner(env=env)
    for fmt in ("json", "csv", "html"):
        out = tmp_path / f"review.{fmt}"
        result = runner.invoke(
            main, ["report", "access-review", "--quarter", "2026Q3", "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0
    data = json.loads((tmp_path / "review.json").read_text())
    assert data["sessions_total"] == quarter.sessions
    assert data["sessions_by_account"] == dict(quarter.by_account)
    bad = runner.invoke(main, ["report", "access-review", "--quarter", "2026Q9"])
    assert bad.exit_code == 2
