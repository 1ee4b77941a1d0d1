"""actas-sdk: the host application's side of actas.

Importable on its own: it depends on a JOSE library only, never on the broker, FastAPI or
SQLAlchemy.
"""

__version__ = "0.1.0"

#: The contract this SDK speaks: actor tokens are EdDSA JWS with this ``typ`` header.
ACTOR_TOKEN_TYPE = "at+jwt"
ACTOR_TOKEN_ALGORITHM = "EdDSA"
