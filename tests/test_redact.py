"""The broker's access log never writes a customer's token from a URL (issue 10)."""

from __future__ import annotations

import io
import logging
import logging.config

import uvicorn.config

from actas.http.redact import logging_config

TOKEN = "actas_ces_" + "Ab3-_" * 8 + "xyz"


def test_the_access_log_line_has_no_token() -> None:
    config = logging_config(uvicorn.config.LOGGING_CONFIG)
    logging.config.dictConfig(config)
    logger = logging.getLogger("uvicorn.access")
    stream = io.StringIO()
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logger.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        f"/customer/end/{TOKEN}",
        "1.1",
        200,
    )
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", f"/actas/link?t={TOKEN}", "1.1", 200)
    written = stream.getvalue()
    assert TOKEN not in written
    assert written.count("[redacted]") == 2
    assert "/customer/end/[redacted]" in written
