"""One spelling per email address, so that "never reach broker staff" cannot be bypassed by a
space, a capital, a fullwidth letter or an invisible character (finding 4)."""

from __future__ import annotations

import re
import unicodedata

from actas.domain.errors import InvalidInput

#: One local part, one @, one domain; no whitespace anywhere.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


def canonical_email(value: str) -> str:
    """The form emails are stored and compared in: Unicode NFKC with case folding (NFKC, case
    fold, NFKC again, as Unicode's NFKC_Casefold does), default-ignorable format characters
    (zero-width space, soft hyphen, direction marks: category Cf) removed, and surrounding
    whitespace stripped. Pure and total: it never refuses, so it can compare stored values
    written before it existed."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return visible.strip()


def normalise_email(value: str) -> str:
    """An address as it enters the broker: canonical, and one plain address or refused."""
    email = canonical_email(value)
    if not EMAIL_RE.match(email) or any(unicodedata.category(c) == "Cc" for c in email):
        raise InvalidInput("email is not an address")
    return email
