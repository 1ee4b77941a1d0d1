"""Every error the SDK raises: one root, a stable ``code`` each, messages that name the rule.

Messages never contain a token, a refresh handle or a credential; values quoted from a token
are cut short, so that a hostile header cannot flood a log.
"""

from __future__ import annotations


def quoted(value: object, limit: int = 40) -> str:
    """``value`` as a short ``repr`` for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ActAsError(Exception):
    """The root of every SDK error. ``code`` is stable; the message is for people."""

    code = "actas_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- actor tokens ------------------------------------------------------------------------------


class TokenError(ActAsError):
    """The actor token cannot be trusted; the request is refused."""

    code = "invalid_token"


class TokenTooLarge(TokenError):
    code = "token_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"token of {size} bytes > limit of {limit} bytes")
        self.size = size
        self.limit = limit


class MalformedToken(TokenError):
    code = "malformed_token"


class WrongAlgorithm(TokenError):
    code = "wrong_algorithm"

    def __init__(self, alg: object) -> None:
        super().__init__(f"alg {quoted(alg)} is not EdDSA")
        self.alg = alg


class WrongType(TokenError):
    code = "wrong_type"

    def __init__(self, typ: object) -> None:
        super().__init__(f"typ {quoted(typ)} is not at+jwt")
        self.typ = typ


class UnknownKey(TokenError):
    code = "unknown_key"

    def __init__(self, kid: object) -> None:
        super().__init__(f"kid {quoted(kid)} is not in the broker's key set")
        self.kid = kid


class BadSignature(TokenError):
    code = "bad_signature"


class WrongIssuer(TokenError):
    code = "wrong_issuer"

    def __init__(self, issuer: object, expected: str) -> None:
        super().__init__(f"iss {quoted(issuer)} is not {expected!r}")
        self.issuer = issuer


class WrongAudience(TokenError):
    code = "wrong_audience"

    def __init__(self, audience: object, expected: str) -> None:
        super().__init__(f"aud {quoted(audience)} is not {expected!r}")
        self.audience = audience


class TokenExpired(TokenError):
    code = "token_expired"

    def __init__(self, exp: float, now: float, leeway: float) -> None:
        super().__init__(f"token expired: exp {exp:.0f} + leeway {leeway:.0f} s <= now {now:.0f}")
        self.exp = exp
        self.now = now


class TokenNotYetValid(TokenError):
    code = "token_not_yet_valid"

    def __init__(self, claim: str, value: float, now: float, leeway: float) -> None:
        super().__init__(f"{claim} {value:.0f} > now {now:.0f} + leeway {leeway:.0f} s")
        self.claim = claim


class MissingClaim(TokenError):
    code = "missing_claim"

    def __init__(self, claim: str, why: str = "is missing") -> None:
        super().__init__(f"claim {claim} {why}")
        self.claim = claim


class LifetimeTooLong(TokenError):
    code = "lifetime_too_long"

    def __init__(self, lifetime: float, limit: int) -> None:
        super().__init__(f"token lifetime {lifetime:.0f} s > {limit} s")


class BadCookie(TokenError):
    code = "bad_cookie"


# --- the session and the feed -------------------------------------------------------------------


class SessionEnded(ActAsError):
    """The support session is over: revoked, ended, or past its hard expiry."""

    code = "session_ended"


class SessionRevoked(SessionEnded):
    code = "session_revoked"

    def __init__(self, session_id: str, reason: str) -> None:
        super().__init__(f"session {session_id[:40]} was revoked ({reason[:40]})")
        self.session_id = session_id
        self.reason = reason


class FeedStale(ActAsError):
    """The revocation feed has been silent too long: the SDK cannot tell what was revoked."""

    code = "revocation_feed_stale"

    def __init__(self, silent_for: float | None, limit: float) -> None:
        what = "never synced" if silent_for is None else f"silent for {silent_for:.1f} s"
        super().__init__(f"revocation feed {what} > staleness limit {limit:g} s")
        self.silent_for = silent_for
        self.limit = limit


class AuditUnavailable(ActAsError):
    """The audit spool is full: impersonation pauses rather than go unrecorded."""

    code = "audit_unavailable"


class SubjectNotLoaded(ActAsError):
    code = "subject_not_loaded"


# --- the broker ----------------------------------------------------------------------------------


class BrokerError(ActAsError):
    code = "broker_error"


class BrokerUnavailable(BrokerError):
    """The broker did not answer, or answered with a server error."""

    code = "broker_unavailable"


class GrantRejected(BrokerError):
    """The broker refused a handoff code or refresh handle (``invalid_grant``)."""

    code = "invalid_grant"


# --- one-time links (the broker's link errors, mirrored: the SDK never imports the broker) -------


class LinkError(BrokerError):
    """A one-time link cannot be redeemed. Show the customer "this link cannot be used" and
    offer to send a new one; never perform the action."""

    code = "link_invalid"


class LinkUnknown(LinkError):
    code = "link_unknown"


class LinkExpired(LinkError):
    """Expired, replaced by a newer link, or sent to an address the subject has since
    changed."""

    code = "link_expired"


class LinkUsed(LinkError):
    code = "link_used"


class LinkWrongPurpose(LinkError):
    code = "link_wrong_purpose"


class LinkMalformed(LinkError):
    """Not a link token at all (mistyped, cut short)."""

    code = "malformed_link_token"


class LinkRefused(BrokerError):
    """The broker refused to issue a link: unknown purpose, no such subject, or no verified
    email to send it to. ``reason`` is the broker's problem code."""

    code = "link_refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


#: The broker's problem codes for links -> the SDK's errors.
LINK_ERRORS: dict[str, type[LinkError]] = {
    cls.code: cls for cls in (LinkUnknown, LinkExpired, LinkUsed, LinkWrongPurpose, LinkMalformed)
}


# --- refusals inside the application -------------------------------------------------------------


class Refused(ActAsError):
    """A request the impersonation may not make. Answered with 403 and audited."""

    code = "refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        #: ``scope`` or ``protected:<category>``: what the audit event's detail says.
        self.reason = reason


class ConfigError(ActAsError):
    code = "config_error"
