"""The customer page: send a signed-in customer to the broker's page about support access to
their account (grants, support access codes, the account's policy, the access history).

The application asks the broker, with its credential, for a one-time sign-in for the subject
and redirects the customer's browser to the URL it gets. The code in it works once and for a
minute only, for that subject of this application; the broker then sets its own cookie. There
is no customer password at the broker: the application vouches for who the customer is, and
alone says whether they administer the account (only admins may change its policy)::

    @app.get("/settings/support-access")
    def support_access(user):
        page = actas.customer_page_url(user.id, account_admin=user.is_account_admin)
        return redirect(page.url, 303)

Send the URL as a redirect right away: never put it in a page, an email or a log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from actas_sdk.client import _datetime, _problem
from actas_sdk.errors import BrokerError, GrantRejected

if TYPE_CHECKING:
    from actas_sdk.client import BrokerClient

#: Where the broker serves the page's sign-in; any other URL in its answer is refused.
ENTER_PATH = "/customer/page/enter"


@dataclass(frozen=True, slots=True)
class CustomerPage:
    #: Redirect the customer's browser here (``303``); it holds a one-time code.
    url: str
    expires_at: datetime

    def __repr__(self) -> str:  # the URL is a secret for a minute: keep it out of logs
        return f"CustomerPage(url=<redacted>, expires_at={self.expires_at.isoformat()})"


def page_url(client: BrokerClient, subject_id: str, *, account_admin: bool) -> CustomerPage:
    path = f"/v1/customers/{quote(subject_id, safe='')}/page"
    response = client._call("POST", path, json={"account_admin": account_admin})
    if response.status_code in (401, 403):
        raise BrokerError(f"POST {path}: the application credential was refused")
    if 400 <= response.status_code < 500:
        raise GrantRejected(_problem(response))
    if response.status_code != 201:
        raise BrokerError(f"POST {path}: {_problem(response)}")
    data = client._json(response, "customer page")
    url = data.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or parts.path != ENTER_PATH:
        raise BrokerError("the broker's customer page answer has no usable URL")
    return CustomerPage(url=str(url), expires_at=_datetime(data.get("expires_at"), "expires_at"))
