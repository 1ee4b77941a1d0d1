"""Constants shared by the modules (kept apart to avoid import loops)."""

__version__ = "0.1.0"

#: The contract this SDK speaks: actor tokens are EdDSA JWS with this ``typ`` header.
ACTOR_TOKEN_TYPE = "at+jwt"
ACTOR_TOKEN_ALGORITHM = "EdDSA"
