"""File downloads: a ``Content-Disposition`` that no file name can break."""

from __future__ import annotations

import re
from urllib.parse import quote

_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def attachment(filename: str) -> str:
    """RFC 6266: a plain ``filename`` of safe ASCII for old clients, and ``filename*`` (RFC
    5987/8187, UTF-8, percent-encoded) for the exact name. Quotes, semicolons, CR/LF and
    non-Latin-1 text cannot reach the header raw."""
    fallback = _FALLBACK_UNSAFE.sub("_", filename)[:120] or "download"
    exact = quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"
