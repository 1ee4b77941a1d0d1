"""Structured JSON logs (structlog), one object a line, each with the request's id.

Nothing in a log line may be a secret, a token or a code. Three layers keep it so:
the access line names the route *template* (``/console/enroll/{token}``), never the path or
the query; keys that name secrets (``token``, ``password``, ``code``...) are dropped whatever
their value; and every string is scrubbed of anything shaped like an actas secret
(``actas_xx_...``), a JWT, or a bearer header. stdlib ``logging`` records (uvicorn's, the
outbox's) go through the same processors."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

#: Anything shaped like an actas secret (``actas_`` + a kind + ``_`` + the random part): customer
#: links carry their token in the URL (``/customer/end/<token>``, ``.../actas/link?t=<token>``).
SECRET = re.compile(r"actas_[a-z]{2,3}_[A-Za-z0-9_-]{8,}")
REDACTED = "[redacted]"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
#: Keys whose values are never logged, whatever they hold.
_SECRET_KEYS = re.compile(
    r"(?i)(token|password|passwd|secret|code|otp|totp|authorization|cookie|credential|seed)"
)


def scrub_text(text: str) -> str:
    text = SECRET.sub(REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub_item(k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_value(v) for v in value]
    return value


def _scrub_item(key: Any, value: Any) -> Any:
    if isinstance(key, str) and _SECRET_KEYS.search(key) and key not in _KEPT:
        return REDACTED
    return _scrub_value(value)


#: Keys that match the pattern but hold no secret.
_KEPT = frozenset({"status_code"})


def scrub(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """The last processor before rendering: no secret leaves, whoever logged it."""
    return {k: _scrub_item(k, v) for k, v in event.items()}


def _processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]


def configure(*, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` (stderr) for structlog and stdlib loggers alike."""
    shared = _processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # uvicorn's access line writes the path (a customer's token can be in it): the broker's
    # own line (``actas.http.observe``) names the route template instead.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


#: HTTP clients log each request's URL at INFO: a Slack webhook URL is itself a secret, and a
#: webhook receiver's URL may carry one.
_QUIET = ("httpx", "httpx2", "httpcore", "urllib3")


def formatter() -> logging.Formatter:
    """The JSON formatter, for a handler of one's own (tests capture through it)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            scrub,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
    )


def uvicorn_config() -> dict[str, Any]:
    """``log_config`` for uvicorn: its loggers through the JSON formatter (its own access
    line is off: the broker writes one with the route template, see ``actas.http.observe``)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "": {"handlers": ["default"], "level": "INFO"},
            "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
            **{name: {"level": "WARNING"} for name in _QUIET},
        },
    }
