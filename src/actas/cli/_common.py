"""What every ``actas`` command shares: settings, the services for one command, the actor the
log names, and one clear line instead of a traceback."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from actas.bootstrap import build
from actas.domain.audit import Actor
from actas.domain.errors import ActasError, Unavailable
from actas.keys.keyring import KeyFileError
from actas.services.context import ServiceContext
from actas.settings import Settings, SettingsError, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    click.echo(f"actas: {message}", err=True)
    sys.exit(2)


def friendly(func: F) -> F:
    """Known errors end the command with one clear line, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Unavailable as exc:
            cause = exc.__cause__
            fail(_database_problem(cause) if isinstance(cause, SQLAlchemyError) else str(exc))
        except (SettingsError, KeyFileError, ActasError) as exc:
            fail(str(exc))
        except SQLAlchemyError as exc:
            fail(_database_problem(exc))
        return None

    return wrapper  # type: ignore[return-value]


def _database_problem(exc: SQLAlchemyError) -> str:
    """One line naming the setting; the URL's password never shows."""
    try:
        url = make_url(settings().database_url).render_as_string(hide_password=True)
    except (SettingsError, ValueError):
        url = "(unparsable)"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    return f"ACTAS_DATABASE_URL={url!r} cannot be used: {reason}"


#: The group's options that stand in for a setting, and the variable each overrides.
OVERRIDES = {"database_url": "ACTAS_DATABASE_URL", "key_file": "ACTAS_KEY_FILE"}


def settings() -> Settings:
    """The settings of this command: ``actas --database-url/--key-file`` win over the
    environment, which wins over ``actas.toml`` in the working directory."""
    environ = dict(os.environ)
    context = click.get_current_context(silent=True)
    given = context.find_root().obj if context is not None else None
    if isinstance(given, dict):
        for option, variable in OVERRIDES.items():
            if given.get(option):
                environ[variable] = str(given[option])
    return load_settings(environ)


def services() -> ServiceContext:
    """The services for one command; their connections close when the command ends."""
    broker = build(settings())
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(broker.close)
    return broker.services


def cli_actor() -> Actor:
    return Actor(id=f"cli:{getpass.getuser()}")


def print_enrollment(uri: str) -> None:
    import segno

    click.echo("Add this to the authenticator app (scan or paste):")
    click.echo(f"  {uri}")
    if sys.stdout.isatty():
        segno.make(uri, error="m").terminal(compact=True)
