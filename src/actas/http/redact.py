"""Keep one-time secrets out of the request log.

Customer links land on URLs that carry their token (``/customer/end/<token>``, and a host
app's ``.../actas/link?t=<token>``): the email has no other way to carry it. uvicorn's access
log writes every request line, so this filter blanks anything shaped like an actas secret
(``actas_`` + a kind + ``_`` + the random part) before the line is formatted. It runs on the
record's arguments, where uvicorn puts the path.
"""

from __future__ import annotations

import logging
import re
from typing import Any

SECRET = re.compile(r"actas_[a-z]{2,3}_[A-Za-z0-9_-]{8,}")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return SECRET.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """A filter for the access logger: redacts the message and its string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def logging_config(base: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's logging config (``base``) with :class:`RedactSecrets` on every handler."""
    config = {**base, "filters": {**base.get("filters", {}), "redact": {"()": RedactSecrets}}}
    config["handlers"] = {
        name: {**handler, "filters": [*handler.get("filters", []), "redact"]}
        for name, handler in base.get("handlers", {}).items()
    }
    return config
