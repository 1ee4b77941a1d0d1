"""Settings: defaults, file and environment, and one clear line for every wrong value.

Pure: no database, no network. Every call passes its own ``environ`` and ``cwd`` so the
developer's shell and working directory never leak in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actas.settings import Secret, Settings, SettingsError, load_settings

SECRET = "hunter2-Sup3r-s3cret"


def load(tmp_path: Path, **env: str) -> Settings:
    return load_settings(dict(env), cwd=tmp_path)


def failure(tmp_path: Path, **env: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, **env)
    message = str(caught.value)
    assert message, "a SettingsError must say what is wrong"
    assert "\n" not in message, f"not one line: {message!r}"
    assert "Traceback" not in message
    return message


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "actas.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults, file, environment ------------------------------------------------------------


def test_defaults_use_sqlite_in_cwd_and_derive_the_public_url(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'actas.db'}"
    assert settings.is_sqlite
    assert settings.host == "127.0.0.1"
    assert settings.port == 8400
    assert settings.public_url == "http://127.0.0.1:8400"
    assert settings.key_file == tmp_path / "actas-keys.json"
    assert settings.smtp is None
    assert settings.slack.webhook_url is None
    assert settings.max_body_bytes == 65536
    assert settings.checkpoint_every == 1000
    assert settings.staff_session_ttl == 8 * 3600


def test_public_url_follows_host_and_port(tmp_path: Path) -> None:
    settings = load(tmp_path, ACTAS_HOST="0.0.0.0", ACTAS_PORT="9001")
    assert (settings.host, settings.port) == ("0.0.0.0", 9001)
    assert settings.public_url == "http://0.0.0.0:9001"


def test_public_url_loses_its_trailing_slash(tmp_path: Path) -> None:
    assert load(tmp_path, ACTAS_PUBLIC_URL="https://broker.test/").public_url == (
        "https://broker.test"
    )
    assert load(tmp_path, ACTAS_PUBLIC_URL="https://x.test/actas/").public_url == (
        "https://x.test/actas"
    )


def test_file_in_cwd_is_read(tmp_path: Path) -> None:
    write_toml(
        tmp_path,
        '[broker]\nport = 9000\npublic_url = "https://file.test"\ncheckpoint_every = 7\n'
        'key_file = "/srv/actas/keys.json"\n',
    )
    settings = load(tmp_path)
    assert settings.port == 9000
    assert settings.public_url == "https://file.test"
    assert settings.checkpoint_every == 7
    assert settings.key_file == Path("/srv/actas/keys.json")


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    write_toml(tmp_path, '[broker]\nport = 9000\npublic_url = "https://file.test"\n')
    settings = load(tmp_path, ACTAS_PORT="9100", ACTAS_PUBLIC_URL="https://env.test")
    assert settings.port == 9100
    assert settings.public_url == "https://env.test"


def test_actas_config_names_a_file_elsewhere(tmp_path: Path) -> None:
    elsewhere = tmp_path / "etc" / "broker.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text("[broker]\nsign_in_free_failures = 3\n", encoding="utf-8")
    write_toml(tmp_path, "[broker]\nsign_in_free_failures = 9\n")  # ignored: ACTAS_CONFIG wins
    assert load(tmp_path, ACTAS_CONFIG=str(elsewhere)).sign_in_free_failures == 3


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://actas@db.test:5432/actas", "postgresql+psycopg://actas@db.test:5432/actas"),
        ("postgres://actas@db.test/actas", "postgresql+psycopg://actas@db.test/actas"),
        ("postgresql+psycopg://actas@db.test/actas", "postgresql+psycopg://actas@db.test/actas"),
        ("sqlite:////var/lib/actas/actas.db", "sqlite:////var/lib/actas/actas.db"),
    ],
)
def test_database_url_names_the_psycopg_driver(tmp_path: Path, given: str, expected: str) -> None:
    settings = load(tmp_path, ACTAS_DATABASE_URL=given)
    assert settings.database_url == expected
    assert settings.is_sqlite == expected.startswith("sqlite")


def test_smtp_settings(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        ACTAS_SMTP_HOST="127.0.0.1",
        ACTAS_SMTP_FROM="actas@example.test",
        ACTAS_SMTP_USERNAME="actas",
        ACTAS_SMTP_PASSWORD=SECRET,
        ACTAS_SMTP_STARTTLS="off",
    )
    assert settings.smtp is not None
    assert settings.smtp.host == "127.0.0.1"
    assert settings.smtp.port == 587
    assert settings.smtp.sender == "actas@example.test"
    assert settings.smtp.username == "actas"
    assert settings.smtp.password == Secret(SECRET)
    assert settings.smtp.starttls is False


def test_smtp_implicit_tls_defaults_to_port_465_without_starttls(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        ACTAS_SMTP_HOST="mail.test",
        ACTAS_SMTP_FROM="actas@example.test",
        ACTAS_SMTP_IMPLICIT_TLS="on",
    )
    assert settings.smtp is not None
    assert settings.smtp.implicit_tls is True
    assert settings.smtp.starttls is False
    assert settings.smtp.port == 465


def test_smtp_defaults_to_starttls_on_587(tmp_path: Path) -> None:
    settings = load(tmp_path, ACTAS_SMTP_HOST="mail.test", ACTAS_SMTP_FROM="a@example.test")
    assert settings.smtp is not None
    assert (settings.smtp.starttls, settings.smtp.implicit_tls, settings.smtp.port) == (
        True,
        False,
        587,
    )


def test_the_maildir_defaults_beside_the_sqlite_database(tmp_path: Path) -> None:
    data = tmp_path / ".actas"
    settings = load(tmp_path, ACTAS_DATABASE_URL=f"sqlite:///{data / 'actas.db'}")
    assert settings.mail_dir == data / "mail"
    assert load(tmp_path, ACTAS_MAIL_DIR=str(tmp_path / "m")).mail_dir == tmp_path / "m"
    pg = load(tmp_path, ACTAS_DATABASE_URL="postgresql://db.test/actas")
    assert pg.mail_dir == tmp_path / ".actas" / "mail"


# --- one line naming the setting and its value ----------------------------------------------


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ACTAS_PORT": "abc"}, ["ACTAS_PORT", "'abc'", "not an integer"]),
        ({"ACTAS_PORT": "0"}, ["ACTAS_PORT", "0", "1..65535"]),
        ({"ACTAS_PORT": "65536"}, ["ACTAS_PORT", "65536"]),
        ({"ACTAS_PUBLIC_URL": "ftp://broker.test"}, ["ACTAS_PUBLIC_URL", "'ftp://broker.test'"]),
        ({"ACTAS_PUBLIC_URL": "https://"}, ["ACTAS_PUBLIC_URL", "'https://'"]),
        (
            {"ACTAS_PUBLIC_URL": "https://broker.test/?next=1"},
            ["ACTAS_PUBLIC_URL", "'https://broker.test/?next=1'", "query"],
        ),
        (
            {"ACTAS_PUBLIC_URL": "https://broker.test/#top"},
            ["ACTAS_PUBLIC_URL", "'https://broker.test/#top'"],
        ),
        ({"ACTAS_SMTP_HOST": "mail.test"}, ["ACTAS_SMTP_FROM", "ACTAS_SMTP_HOST"]),
        (
            {"ACTAS_SMTP_HOST": "m.test", "ACTAS_SMTP_FROM": "a@b.test", "ACTAS_SMTP_PORT": "x"},
            ["ACTAS_SMTP_PORT", "'x'"],
        ),
        (
            {
                "ACTAS_SMTP_HOST": "m.test",
                "ACTAS_SMTP_FROM": "a@b.test",
                "ACTAS_SMTP_STARTTLS": "?",
            },
            ["ACTAS_SMTP_STARTTLS", "'?'", "boolean"],
        ),
        (
            {
                "ACTAS_SMTP_HOST": "m.test",
                "ACTAS_SMTP_FROM": "a@b.test",
                "ACTAS_SMTP_STARTTLS": "on",
                "ACTAS_SMTP_IMPLICIT_TLS": "on",
            },
            ["ACTAS_SMTP_STARTTLS", "ACTAS_SMTP_IMPLICIT_TLS", "choose one"],
        ),
        (
            {
                "ACTAS_SMTP_HOST": "m.test",
                "ACTAS_SMTP_FROM": "a@b.test",
                "ACTAS_SMTP_STARTTLS": "0",
            },
            ["ACTAS_SMTP_STARTTLS", "'m.test'", "unencrypted"],
        ),
        (
            {"ACTAS_SMTP_HOST": "m.test", "ACTAS_SMTP_FROM": "a@b.test\r\nBcc: x@evil.test"},
            ["ACTAS_SMTP_FROM", "not an email address"],
        ),
        (
            {"ACTAS_SMTP_HOST": "m.test\r\n", "ACTAS_SMTP_FROM": "a@b.test"},
            ["ACTAS_SMTP_HOST", "not a host"],
        ),
        (
            {"ACTAS_DATABASE_URL": "mysql://db.test/actas"},
            ["ACTAS_DATABASE_URL", "'mysql://db.test/actas'"],
        ),
        ({"ACTAS_DATABASE_URL": "sqlite://"}, ["ACTAS_DATABASE_URL", "'sqlite://'"]),
        ({"ACTAS_MAX_BODY_BYTES": "10"}, ["ACTAS_MAX_BODY_BYTES", "10", "1024.."]),
        ({"ACTAS_SIGN_IN_FREE_FAILURES": "-1"}, ["ACTAS_SIGN_IN_FREE_FAILURES", "-1"]),
        ({"ACTAS_SIGN_IN_MAX_DELAY_SECONDS": "0"}, ["ACTAS_SIGN_IN_MAX_DELAY_SECONDS", "1.."]),
        # The lockout settings are gone: an old deployment is told what replaced them.
        (
            {"ACTAS_LOCKOUT_THRESHOLD": "5"},
            ["ACTAS_LOCKOUT_THRESHOLD", "ACTAS_SIGN_IN_FREE_FAILURES"],
        ),
        (
            {"ACTAS_LOCKOUT_SECONDS": "900"},
            ["ACTAS_LOCKOUT_SECONDS", "ACTAS_SIGN_IN_MAX_DELAY_SECONDS"],
        ),
        ({"ACTAS_STAFF_SESSION_TTL": "1.5"}, ["ACTAS_STAFF_SESSION_TTL", "'1.5'"]),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(
    tmp_path: Path, env: dict[str, str], names: list[str]
) -> None:
    message = failure(tmp_path, **env)
    for name in names:
        assert name in message, f"{name!r} missing from {message!r}"


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[broker]\nprot = 8400\n")
    message = failure(tmp_path)
    assert "[broker].prot" in message
    assert str(path) in message


def test_a_replaced_key_in_the_file_names_its_successor(tmp_path: Path) -> None:
    write_toml(tmp_path, "[broker]\nlockout_seconds = 900\n")
    message = failure(tmp_path)
    assert "[broker].lockout_seconds is gone" in message
    assert "[broker].sign_in_max_delay_seconds" in message


def test_the_throttle_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert (settings.sign_in_free_failures, settings.sign_in_max_delay_seconds) == (5, 900)


def test_a_wrong_value_in_the_file_is_named(tmp_path: Path) -> None:
    write_toml(tmp_path, '[broker]\nport = "eighty"\n')
    message = failure(tmp_path)
    assert "ACTAS_PORT" in message
    assert "'eighty'" in message


def test_unparseable_file_is_one_line(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[broker\nport = 1\n")
    message = failure(tmp_path)
    assert str(path) in message
    assert "not valid TOML" in message
    assert "line 1" in message


def test_broker_must_be_a_table(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'broker = "yes"\n')
    message = failure(tmp_path)
    assert str(path) in message
    assert "[broker]" in message


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    message = failure(tmp_path, ACTAS_CONFIG=str(missing))
    assert "ACTAS_CONFIG" in message
    assert str(missing) in message


# --- secrets never show ---------------------------------------------------------------------


def test_secret_repr_and_str_are_redacted() -> None:
    secret = Secret(SECRET)
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "**********"
    assert f"{secret}" == "**********"
    assert secret.value == SECRET


def test_repr_of_settings_shows_no_secret(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        ACTAS_SMTP_HOST="mail.test",
        ACTAS_SMTP_FROM="actas@example.test",
        ACTAS_SMTP_PASSWORD=SECRET,
        ACTAS_SLACK_WEBHOOK_URL=f"https://hooks.slack.test/{SECRET}",
        ACTAS_SLACK_BOT_TOKEN=SECRET + "-bot",
        ACTAS_SLACK_SIGNING_SECRET=SECRET + "-sign",
    )
    text = repr(settings)
    assert SECRET not in text
    assert "Secret('**********')" in text
    assert settings.smtp is not None
    assert settings.smtp.password is not None
    assert settings.smtp.password.value == SECRET  # still usable by the mailer


def test_errors_next_to_a_secret_do_not_show_it(tmp_path: Path) -> None:
    message = failure(
        tmp_path,
        ACTAS_SMTP_HOST="mail.test",
        ACTAS_SMTP_FROM="actas@example.test",
        ACTAS_SMTP_PASSWORD=SECRET,
        ACTAS_SMTP_PORT="smtp",
    )
    assert "ACTAS_SMTP_PORT" in message
    assert SECRET not in message


def test_a_bad_secret_setting_is_named_but_redacted(tmp_path: Path) -> None:
    message = failure(tmp_path, ACTAS_SLACK_WEBHOOK_URL=f"ftp://hooks.test/{SECRET}")
    assert "ACTAS_SLACK_WEBHOOK_URL" in message
    assert "**********" in message
    assert SECRET not in message


def test_a_bad_secret_setting_in_the_file_is_redacted(tmp_path: Path) -> None:
    write_toml(tmp_path, f'[broker]\nslack_webhook_url = "gopher://{SECRET}"\n')
    message = failure(tmp_path)
    assert "ACTAS_SLACK_WEBHOOK_URL" in message
    assert SECRET not in message


def test_bad_database_url_hides_its_password(tmp_path: Path) -> None:
    message = failure(tmp_path, ACTAS_DATABASE_URL=f"mysql://actas:{SECRET}@db.test/actas")
    assert "ACTAS_DATABASE_URL" in message
    assert SECRET not in message
    assert "db.test" in message


def test_bad_database_url_still_shows_its_scheme(tmp_path: Path) -> None:
    message = failure(tmp_path, ACTAS_DATABASE_URL=f"mysql://actas:{SECRET}@db.test/actas")
    assert "mysql://" in message
    assert SECRET not in message


def test_repr_of_settings_hides_the_database_password(tmp_path: Path) -> None:
    settings = load(tmp_path, ACTAS_DATABASE_URL=f"postgresql://actas:{SECRET}@db.test/actas")
    assert SECRET in settings.database_url  # the engine still needs it
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    "value", ["https://broker.test\n", " https://broker.test", "https://b\t.test"]
)
def test_public_url_with_whitespace_is_refused(tmp_path: Path, value: str) -> None:
    message = failure(tmp_path, ACTAS_PUBLIC_URL=value)
    assert "ACTAS_PUBLIC_URL" in message
