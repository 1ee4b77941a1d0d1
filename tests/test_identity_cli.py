"""Identity commands: ``actas scim token create|list|revoke``; ``actas staff add
--enrollment-link`` prints a link instead of the otpauth URI (the admin never sees the seed);
``actas staff enrollment-link EMAIL`` replaces it; ``--email`` queues it for the member."""

from __future__ import annotations

from tests.test_cli import Cli, clean_environment, cli, ready

__all__ = ["clean_environment", "cli", "ready"]  # fixtures, imported for this module


def _link(stdout: str) -> str:
    (link,) = [ln for ln in stdout.splitlines() if "/console/enroll/" in ln]
    return link.strip()


def test_staff_add_prints_an_enrollment_link_not_a_seed(ready: Cli) -> None:
    result = ready.ok("staff", "add", "n@x.test", "--role", "agent", "--enrollment-link")
    assert result.stdout.splitlines()[0] == "added n@x.test (agent)"
    first = _link(result.stdout)
    assert first.startswith("https://broker.test/console/enroll/actas_en_")
    assert "otpauth://" not in result.stdout
    assert "password" not in result.stdout
    again = _link(ready.ok("staff", "enrollment-link", "n@x.test").stdout)
    assert again != first
    emailed = ready.ok("staff", "enrollment-link", "n@x.test", "--email").stdout
    assert "emailed to n@x.test" in emailed
    assert "/console/enroll/" not in emailed


def test_a_link_and_a_password_do_not_go_together(ready: Cli) -> None:
    result = ready("staff", "add", "n@x.test", "--role", "agent", "--enrollment-link",
                   "--generate-password")  # fmt: skip
    assert result.exit_code == 2
    assert "drop --password" in result.stderr


def test_scim_tokens_are_created_listed_and_revoked(ready: Cli) -> None:
    created = ready.ok("scim", "token", "create", "okta").stdout.splitlines()
    secret = created[-1]
    assert secret.startswith("actas_scim_")
    listed = ready.ok("scim", "token", "list").stdout
    assert listed.startswith("okta\t")
    assert secret not in listed
    assert listed.rstrip().endswith("\t-")
    ready.ok("scim", "token", "revoke", "okta")
    assert not ready.ok("scim", "token", "list").stdout.rstrip().endswith("\t-")
    again = ready("scim", "token", "create", "okta")
    assert again.exit_code == 2
    assert "exists" in again.stderr
