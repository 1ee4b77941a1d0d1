"""The broker's logs never write a customer's token from a URL (issue 10): uvicorn's own access
line is off under the broker's logging config, and the scrubber blanks a token wherever a
message carries one."""

from __future__ import annotations

import io
import logging
import logging.config

from actas.http.logs import scrub_text, uvicorn_config

TOKEN = "actas_ces_" + "Ab3-_" * 8 + "xyz"


def test_the_access_log_line_has_no_token() -> None:
    logging.config.dictConfig(uvicorn_config())
    stream = io.StringIO()
    root = logging.getLogger()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logger = logging.getLogger("uvicorn.access")
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", f"/customer/end/{TOKEN}", "1.1", 200)
    assert TOKEN not in stream.getvalue()


def test_the_scrubber_blanks_tokens_in_urls() -> None:
    written = scrub_text(f"GET /customer/end/{TOKEN} then /actas/link?t={TOKEN}")
    assert TOKEN not in written
    assert written.count("[redacted]") == 2
    assert "/customer/end/[redacted]" in written
