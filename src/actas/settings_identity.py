"""The staff-identity settings: ``[oidc]`` (with ``[oidc.roles]``), ``[passkeys]`` and
``[sign_in]`` tables of ``actas.toml``, and the ``ACTAS_OIDC_*`` variables.

```toml
[oidc]
discovery_url = "https://login.example.com/.well-known/openid-configuration"
client_id = "actas"
client_secret = "..."            # or ACTAS_OIDC_CLIENT_SECRET
groups_claim = "groups"
create_staff = true              # first sign-in of a mapped person creates their account

[oidc.roles]                     # IdP group -> broker roles, re-applied at every sign-in
"support-agents" = ["agent"]
"support-leads" = ["lead", "agent"]

[sign_in]
password = false                 # only once SSO works: every sign-in goes through the IdP

[passkeys]
require_for_roles = ["admin"]    # these roles step up with a passkey only, never TOTP
require_for_actions = ["break_glass", "approve_high_risk"]
```
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actas.domain.identity import IdentityRules, PasskeyRules, StepUpAction
from actas.domain.roles import Role


class IdentitySettingsError(ValueError):
    pass


@dataclass(frozen=True, repr=False)
class OidcSettings:
    discovery_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ("openid", "email", "profile", "groups")
    groups_claim: str = "groups"
    create_staff: bool = True
    role_map: Mapping[str, frozenset[Role]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"OidcSettings(discovery_url={self.discovery_url!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class IdentitySettings:
    oidc: OidcSettings | None = None
    rules: IdentityRules = field(default_factory=IdentityRules)


def _table(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise IdentitySettingsError(f"[{name}] must be a table")
    return value


def _roles(where: str, raw: object) -> frozenset[Role]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise IdentitySettingsError(f"{where} must be a role or a list of roles")
    try:
        return frozenset(Role(i) for i in items)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise IdentitySettingsError(f"{where}={raw!r}: roles are {allowed}") from None


def _one_role(where: str, raw: object) -> Role:
    roles = _roles(where, raw)
    if len(roles) != 1:
        raise IdentitySettingsError(f"{where} must be one role")
    return next(iter(roles))


def _actions(raw: object) -> frozenset[StepUpAction]:
    if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):
        raise IdentitySettingsError("[passkeys].require_for_actions must be a list")
    try:
        return frozenset(StepUpAction(i) for i in raw)
    except ValueError:
        allowed = ", ".join(a.value for a in StepUpAction)
        raise IdentitySettingsError(
            f"[passkeys].require_for_actions={raw!r}: actions are {allowed}"
        ) from None


def _bool(where: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise IdentitySettingsError(f"{where}={raw!r} is not true or false")


def load_identity(config: Path | None, env: Mapping[str, str]) -> IdentitySettings:
    """Read the identity tables of ``config`` (if any) and the ``ACTAS_OIDC_*`` variables."""
    data: dict[str, Any] = {}
    if config is not None and config.is_file():
        with config.open("rb") as fh:
            data = tomllib.load(fh)
    oidc_t = _table(data, "oidc")
    raw_roles = oidc_t.pop("roles", {})
    if not isinstance(raw_roles, dict):
        raise IdentitySettingsError("[oidc.roles] must be a table of group = [roles]")
    role_map = {str(g): _roles(f"[oidc.roles].{g}", r) for g, r in raw_roles.items()}
    for key in ("discovery_url", "client_id", "client_secret"):
        if f"ACTAS_OIDC_{key.upper()}" in env:
            oidc_t[key] = env[f"ACTAS_OIDC_{key.upper()}"]
    unknown = sorted(
        set(oidc_t)
        - {"discovery_url", "client_id", "client_secret", "scopes", "groups_claim", "create_staff"}
    )
    if unknown:
        raise IdentitySettingsError(f"unknown setting [oidc].{unknown[0]}")
    oidc: OidcSettings | None = None
    if oidc_t:
        missing = [k for k in ("discovery_url", "client_id", "client_secret") if not oidc_t.get(k)]
        if missing:
            raise IdentitySettingsError(f"[oidc].{missing[0]} is missing")
        url = str(oidc_t["discovery_url"])
        if not url.startswith("https://") and not url.startswith("http://127.0.0.1:"):
            raise IdentitySettingsError(
                f"[oidc].discovery_url={url!r} must be https:// (or a provider on 127.0.0.1)"
            )
        scopes = oidc_t.get("scopes", ["openid", "email", "profile", "groups"])
        if not isinstance(scopes, list) or "openid" not in scopes:
            raise IdentitySettingsError("[oidc].scopes must be a list that includes openid")
        oidc = OidcSettings(
            discovery_url=url,
            client_id=str(oidc_t["client_id"]),
            client_secret=str(oidc_t["client_secret"]),
            scopes=tuple(str(s) for s in scopes),
            groups_claim=str(oidc_t.get("groups_claim", "groups")),
            create_staff=_bool("[oidc].create_staff", oidc_t.get("create_staff", True)),
            role_map=role_map,
        )
    sign_in = _table(data, "sign_in")
    password = _bool(
        "[sign_in].password", env.get("ACTAS_PASSWORD_SIGN_IN", sign_in.get("password", True))
    )
    if not password and oidc is None:
        raise IdentitySettingsError(
            "[sign_in].password = false needs [oidc]: nobody could sign in otherwise"
        )
    keys = _table(data, "passkeys")
    rules = IdentityRules(
        password_sign_in=password,
        passkeys=PasskeyRules(
            roles=_roles("[passkeys].require_for_roles", keys.get("require_for_roles", [])),
            actions=_actions(keys.get("require_for_actions", [])),
        ),
        role_map=oidc.role_map if oidc else {},
        sso_creates_staff=oidc.create_staff if oidc else False,
        scim_role=Role(
            next(iter(_roles("[scim].role", _table(data, "scim").get("role", "agent"))))
        ),
    )
    return IdentitySettings(oidc=oidc, rules=rules)
