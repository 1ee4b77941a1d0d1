"""actas-sdk: the host application's side of actas.

Importable on its own: it depends on PyJWT, ``cryptography`` and ``httpx`` only, never on
the broker, FastAPI or SQLAlchemy. Framework adapters live in :mod:`actas_sdk.asgi`,
:mod:`actas_sdk.flask` and :mod:`actas_sdk.django` and import their framework themselves.
"""

from actas_sdk._config import DEFAULT_AUDIT_SKIP_PREFIXES as DEFAULT_AUDIT_SKIP_PREFIXES
from actas_sdk._config import DEFAULT_AUDIT_SKIP_SUFFIXES as DEFAULT_AUDIT_SKIP_SUFFIXES
from actas_sdk._config import DEFAULT_STRIP_SCRIPTS as DEFAULT_STRIP_SCRIPTS
from actas_sdk._config import Config as Config
from actas_sdk._meta import ACTOR_TOKEN_ALGORITHM as ACTOR_TOKEN_ALGORITHM
from actas_sdk._meta import ACTOR_TOKEN_TYPE as ACTOR_TOKEN_TYPE
from actas_sdk._meta import __version__ as __version__
from actas_sdk._routes import DEFAULT_PROTECTED_ROUTES as DEFAULT_PROTECTED_ROUTES
from actas_sdk._runtime import ActAs as ActAs
from actas_sdk._runtime import Admission as Admission
from actas_sdk.client import IssuedLink as IssuedLink
from actas_sdk.client import RedeemedLink as RedeemedLink
from actas_sdk.context import ImpersonationContext as ImpersonationContext
from actas_sdk.context import count_suppressed as count_suppressed
from actas_sdk.context import current_impersonation as current_impersonation
from actas_sdk.context import name_resource as name_resource
from actas_sdk.context import suppressed as suppressed
from actas_sdk.customer import CustomerPage as CustomerPage
from actas_sdk.errors import ActAsError as ActAsError
from actas_sdk.errors import LinkError as LinkError
from actas_sdk.errors import LinkExpired as LinkExpired
from actas_sdk.errors import LinkMalformed as LinkMalformed
from actas_sdk.errors import LinkRefused as LinkRefused
from actas_sdk.errors import LinkUnknown as LinkUnknown
from actas_sdk.errors import LinkUsed as LinkUsed
from actas_sdk.errors import LinkWrongPurpose as LinkWrongPurpose
from actas_sdk.errors import Refused as Refused
from actas_sdk.errors import TokenError as TokenError
from actas_sdk.links import LinkLanding as LinkLanding
from actas_sdk.markers import allow_during_impersonation as allow_during_impersonation
from actas_sdk.markers import protected_action as protected_action
from actas_sdk.markers import requires_scope as requires_scope
from actas_sdk.suppress import skip_during_impersonation as skip_during_impersonation
