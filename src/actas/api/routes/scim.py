"""``/scim/v2``: SCIM 2.0 (RFC 7644) Users for the company's IdP, with the resources and
messages of ``scim2-models``. Errors here are SCIM ``Error`` messages (the protocol's own
``application/scim+json``), not problem documents: that is what IdP clients parse."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Email,
    Error,
    ETag,
    Filter,
    ListResponse,
    Meta,
    Name,
    Patch,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    User,
)

from actas.api.deps import ServicesDep
from actas.domain.audit import Actor
from actas.domain.errors import ActasError, AuthenticationFailed, Conflict, NotFound
from actas.http.callers import bearer
from actas.services import scim as scim_service
from actas.services.scim import ScimUser, UserFields

SCIM = "application/scim+json"


class ScimRoute(APIRoute):
    """A route whose refused bearer token (raised while its dependencies are solved, before
    the endpoint runs) answers as a SCIM ``Error`` (RFC 7644 §3.12), not a problem document:
    IdP clients parse only the former."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthenticationFailed as exc:
                response = _error(401, exc.detail)
                response.headers["WWW-Authenticate"] = 'Bearer realm="scim"'
                return response

        return guarded


router = APIRouter(prefix="/scim/v2", include_in_schema=False, route_class=ScimRoute)
#: The User attributes the broker keeps; the published schema names only these.
SUPPORTED = ("userName", "name", "displayName", "active", "emails")
#: Of the complex ones, the parts it keeps: a name's given and family names (stored as sent),
#: and one address per member (the broker has one email; it is the member's work address).
SUB_ATTRIBUTES = {"name": ("givenName", "familyName"), "emails": ("value",)}


def _json(body: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
    headers = {"Location": location} if location else None
    return Response(json.dumps(body), status_code=status, media_type=SCIM, headers=headers)


def _error(status: int, detail: str, scim_type: str | None = None) -> Response:
    error = Error(status=status, detail=detail[:200], scim_type=scim_type)
    return _json(error.model_dump(), status)


def idp(request: Request, ctx: ServicesDep) -> Actor:
    return scim_service.authenticate(ctx, bearer(request) or "")


IdpDep = Annotated[Actor, Depends(idp)]


def _guarded(fn: Callable[[], Response]) -> Response:
    try:
        return fn()
    except AuthenticationFailed as exc:
        return _error(401, exc.detail)
    except NotFound as exc:
        return _error(404, exc.detail)
    except Conflict as exc:
        return _error(409, exc.detail, "uniqueness")
    except SCIMException as exc:
        error = exc.to_error()
        return _json(error.model_dump(), int(error.status or 400))
    except (ValidationError, ValueError) as exc:
        return _error(400, str(exc).splitlines()[0], "invalidValue")
    except ActasError as exc:
        return _error(400, exc.detail, "invalidValue")


def _model(user: ScimUser, base: str) -> User[Any]:
    when: datetime = user.created_at
    return User(
        id=user.id,
        external_id=user.external_id,
        user_name=user.user_name,
        display_name=user.display_name,
        name=Name(given_name=user.given_name, family_name=user.family_name)
        if user.given_name is not None or user.family_name is not None
        else None,
        active=user.active,
        # No placeholder address (``@scim.invalid``) is shown as an email.
        emails=None if user.email.endswith(".invalid") else [Email(value=user.email)],
        meta=Meta(
            resource_type="User",
            created=when,
            last_modified=when,
            location=f"{base}/scim/v2/Users/{user.id}",
        ),
    )


def _fields(user: User[Any]) -> UserFields:
    if not user.user_name:
        raise ValueError("userName is required")
    display = user.display_name or (user.name.formatted if user.name else None)
    primary = next((e for e in user.emails or [] if e.primary), None) or (
        user.emails[0] if user.emails else None
    )
    return UserFields(
        email=str(primary.value) if primary and primary.value else None,
        user_name=str(user.user_name),
        display_name=display,
        external_id=user.external_id,
        active=user.active,
        given_name=user.name.given_name if user.name else None,
        family_name=user.name.family_name if user.name else None,
    )


def _params(request: Request) -> ResponseParameters[Any]:
    q = request.query_params
    return ResponseParameters.model_validate(
        {k: q[k] for k in ("attributes", "excludedAttributes") if k in q}
    )


def _dump(user: User[Any], ctx: Context, request: Request) -> dict[str, Any]:
    return user.model_dump(scim_ctx=ctx, response_parameters=_params(request))


@router.get("/ServiceProviderConfig")
def service_provider_config(request: Request) -> Response:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=200),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A token per IdP, from `actas scim token create NAME`",
                primary=True,
            )
        ],
    )
    return _json(config.model_dump())


def _user_schema() -> Schema:
    schema = User.to_schema()
    schema.attributes = [a for a in schema.attributes or [] if a.name in SUPPORTED]
    for attribute in schema.attributes:
        kept = SUB_ATTRIBUTES.get(attribute.name or "")
        if kept is not None:
            attribute.sub_attributes = [a for a in attribute.sub_attributes or [] if a.name in kept]
    return schema


def _resource_type(request: Request) -> ResourceType:
    return ResourceType(
        id="User",
        name="User",
        endpoint="/Users",  # type: ignore[arg-type]
        description="Staff members of the broker",
        schema_="urn:ietf:params:scim:schemas:core:2.0:User",  # type: ignore[call-arg]
        meta=Meta(
            resource_type="ResourceType", location=f"{_base(request)}/scim/v2/ResourceTypes/User"
        ),
    )


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/ResourceTypes")
def resource_types(request: Request) -> Response:
    listed = ListResponse[ResourceType](
        total_results=1, start_index=1, items_per_page=1, resources=[_resource_type(request)]
    )
    return _json(listed.model_dump())


@router.get("/ResourceTypes/{name}")
def resource_type(name: str, request: Request) -> Response:
    if name != "User":
        return _error(404, f"no resource type {name[:40]}")
    return _json(_resource_type(request).model_dump())


@router.get("/Schemas")
def schemas(request: Request) -> Response:
    schema = _user_schema()
    listed = ListResponse[Schema](
        total_results=1, start_index=1, items_per_page=1, resources=[schema]
    )
    return _json(listed.model_dump())


@router.get("/Schemas/{schema_id}")
def schema(schema_id: str) -> Response:
    found = _user_schema()
    if schema_id != found.id:
        return _error(404, f"no schema {schema_id[:80]}")
    return _json(found.model_dump())


def _listing(
    request: Request,
    ctx: ServicesDep,
    *,
    filter_text: str | None,
    start: int,
    count: int,
    params: ResponseParameters[Any],
) -> Response:
    start, count = max(1, start), max(0, min(200, count))
    users = scim_service.list_users(ctx, user_name=_user_name_filter(filter_text))
    page = users[start - 1 : start - 1 + count]
    listed = ListResponse[User[Any]](
        total_results=len(users),
        start_index=start,
        items_per_page=len(page),
        resources=[_model(u, _base(request)) for u in page],
    )
    return _json(listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params))


@router.get("/Users")
def list_users(request: Request, ctx: ServicesDep, _: IdpDep) -> Response:
    q = request.query_params
    return _guarded(
        lambda: _listing(
            request,
            ctx,
            filter_text=q.get("filter"),
            start=int(q.get("startIndex", "1")),
            count=int(q.get("count", "100")),
            params=_params(request),
        )
    )


@router.post("/Users/.search")
@router.post("/.search")
async def search_users(request: Request, ctx: ServicesDep, _: IdpDep) -> Response:
    """RFC 7644 §3.4.3: the query in a ``SearchRequest`` body (Users are the only type)."""
    body = await request.body()

    def run() -> Response:
        search: SearchRequest[Any] = SearchRequest.model_validate_json(body or b"{}")
        params: ResponseParameters[Any] = ResponseParameters.model_validate(
            {
                "attributes": search.attributes,
                "excludedAttributes": search.excluded_attributes,
            }
        )
        return _listing(
            request,
            ctx,
            filter_text=search.filter,
            start=search.start_index or 1,
            count=100 if search.count is None else search.count,
            params=params,
        )

    return _guarded(run)


def _user_name_filter(text: str | None) -> str | None:
    if not text:
        return None
    parts = text.strip().split(" ", 2)
    if len(parts) != 3 or parts[0].lower() != "username" or parts[1].lower() != "eq":
        raise ValueError(f'filter {text[:80]!r}: only userName eq "..." is supported')
    return parts[2].strip().strip('"')


@router.post("/Users")
async def create_user(request: Request, ctx: ServicesDep, by: IdpDep) -> Response:
    body = await request.body()

    def run() -> Response:
        user: User[Any] = User.model_validate_json(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        created = _model(scim_service.create_user(ctx, _fields(user), by=by), _base(request))
        return _json(
            _dump(created, Context.RESOURCE_CREATION_RESPONSE, request),
            201,
            location=created.meta.location if created.meta else None,
        )

    return _guarded(run)


@router.get("/Users/{user_id}")
def get_user(user_id: str, request: Request, ctx: ServicesDep, _: IdpDep) -> Response:
    return _guarded(
        lambda: _json(
            _dump(
                _model(scim_service.get_user(ctx, user_id), _base(request)),
                Context.RESOURCE_QUERY_RESPONSE,
                request,
            )
        )
    )


@router.put("/Users/{user_id}")
async def replace_user(user_id: str, request: Request, ctx: ServicesDep, by: IdpDep) -> Response:
    body = await request.body()

    def run() -> Response:
        user: User[Any] = User.model_validate_json(
            body, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
        )
        replaced = scim_service.replace_user(ctx, user_id, _fields(user), by=by)
        return _json(
            _dump(_model(replaced, _base(request)), Context.RESOURCE_REPLACEMENT_RESPONSE, request)
        )

    return _guarded(run)


@router.patch("/Users/{user_id}")
async def patch_user(user_id: str, request: Request, ctx: ServicesDep, by: IdpDep) -> Response:
    body = await request.body()

    def run() -> Response:
        current = _model(scim_service.get_user(ctx, user_id), _base(request))
        op = PatchOp[User[Any]].model_validate_json(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        op.patch(current)
        replaced = scim_service.replace_user(ctx, user_id, _fields(current), by=by)
        return _json(
            _dump(_model(replaced, _base(request)), Context.RESOURCE_PATCH_RESPONSE, request)
        )

    return _guarded(run)


@router.delete("/Users/{user_id}")
def delete_user(user_id: str, ctx: ServicesDep, by: IdpDep) -> Response:
    def run() -> Response:
        scim_service.delete_user(ctx, user_id, by=by)
        return Response(status_code=204)

    return _guarded(run)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    """Anything else under /scim/v2 is a SCIM error, which IdP clients parse."""
    if rest.split("/")[0] in ("ServiceProviderConfig", "ResourceTypes", "Schemas"):
        return _error(405, "these discovery endpoints are read-only")
    return _error(404, f"no SCIM endpoint /{rest[:80]}")
