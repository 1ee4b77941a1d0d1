"""One small host application, written for each framework the SDK supports.

Every version has the same routes, so that ``behaviour.py`` runs the same tests against all
of them. The SDK is configured with ``APP_CONFIG``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request  # FastAPI resolves the views' annotations from module globals

from actas_sdk import (
    ActAs,
    ImpersonationContext,
    allow_during_impersonation,
    current_impersonation,
    name_resource,
    protected_action,
    requires_scope,
    skip_during_impersonation,
)

APP_CONFIG: dict[str, Any] = {
    "api_routes": ("/api/**",),
    "scope_routes": {"notes:archive": ("POST /notes/*/archive",)},
}

USERS = {"u-1": {"id": "u-1", "name": "Jane"}}

PAGE = (
    "<!doctype html><html><head><title>Notes</title>"
    '<script src="https://cdn.segment.com/analytics.js/v1/x/analytics.min.js"></script>'
    "<script>var app = 1;</script></head>"
    "<body><p>user={user}</p><p>subject={subject}</p></body></html>"
)

pushes: list[str] = []


def load_user(context: ImpersonationContext) -> dict[str, str] | None:
    return USERS.get(context.subject)


@skip_during_impersonation("push")
def send_push(text: str) -> str:
    pushes.append(text)
    return "sent"


def page(user: Any) -> str:
    context = current_impersonation()
    name = user["name"] if isinstance(user, dict) else "anon"
    return PAGE.format(user=name, subject=context.subject if context else "-")


def whoami(user: Any, framework_context: ImpersonationContext | None) -> dict[str, Any]:
    context = current_impersonation()
    assert context is framework_context
    if context is None:
        return {"user": None}
    return {
        "user": user["id"] if isinstance(user, dict) else None,
        "subject": context.subject,
        "actor": context.actor,
        "account": context.account,
        "session": context.session_id,
        "scopes": sorted(context.scopes),
        "via": context.via,
    }


# --- Starlette and FastAPI (ASGI) -------------------------------------------------------------


def starlette_app(actas: ActAs) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from actas_sdk.asgi import ActAsMiddleware

    def user_of(request: Request) -> Any:
        return getattr(request.state, "actas_user", None)

    async def home(request: Request) -> Response:
        return HTMLResponse(page(user_of(request)))

    async def fragment(request: Request) -> Response:
        return HTMLResponse("<div>fragment</div>")

    async def who(request: Request) -> Response:
        return JSONResponse(whoami(user_of(request), getattr(request.state, "actas", None)))

    async def note(request: Request) -> Response:
        name_resource(f"note:{request.path_params['note_id']}")
        return JSONResponse({"note": request.path_params["note_id"]})

    async def create(request: Request) -> Response:
        return JSONResponse({"created": True}, status_code=201)

    @requires_scope("notes:share")
    async def share(request: Request) -> Response:
        return JSONResponse({"shared": True})

    async def archive(request: Request) -> Response:
        return JSONResponse({"archived": True})

    async def password(request: Request) -> Response:
        return JSONResponse({"changed": True})

    @protected_action("identity")
    async def phone(request: Request) -> Response:
        return JSONResponse({"changed": True})

    @protected_action("api_keys")
    async def reveal(request: Request) -> Response:
        return JSONResponse({"key": "secret"})

    @allow_during_impersonation
    async def email(request: Request) -> Response:
        return JSONResponse({"changed": True})

    async def notify(request: Request) -> Response:
        return JSONResponse({"result": send_push("hello")})

    async def api_me(request: Request) -> Response:
        context = current_impersonation()
        return JSONResponse({"subject": context.subject if context else None})

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/fragment", fragment),
            Route("/whoami", who),
            Route("/notes/{note_id}", note),
            Route("/notes", create, methods=["POST"]),
            Route("/notes/{note_id}/share", share, methods=["POST"]),
            Route("/notes/{note_id}/archive", archive, methods=["POST"]),
            Route("/settings/password", password, methods=["POST"]),
            Route("/profile/phone", phone, methods=["POST"]),
            Route("/settings/api-keys/reveal", reveal),
            Route("/settings/email", email, methods=["POST"]),
            Route("/notify", notify),
            Route("/api/me", api_me),
        ]
    )
    app.add_middleware(ActAsMiddleware, actas=actas, load_user=load_user)
    return app


def fastapi_app(actas: ActAs) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from actas_sdk.asgi import ActAsMiddleware

    app = FastAPI()

    def user_of(request: Request) -> Any:
        return getattr(request.state, "actas_user", None)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> str:
        return page(user_of(request))

    @app.get("/fragment", response_class=HTMLResponse)
    def fragment() -> str:
        return "<div>fragment</div>"

    @app.get("/whoami")
    def who(request: Request) -> dict[str, Any]:
        return whoami(user_of(request), getattr(request.state, "actas", None))

    @app.get("/notes/{note_id}")
    def note(note_id: str) -> dict[str, Any]:
        name_resource(f"note:{note_id}")
        return {"note": note_id}

    @app.post("/notes", status_code=201)
    def create() -> dict[str, Any]:
        return {"created": True}

    @app.post("/notes/{note_id}/share")
    @requires_scope("notes:share")
    def share(note_id: str) -> dict[str, Any]:
        return {"shared": True}

    @app.post("/notes/{note_id}/archive")
    def archive(note_id: str) -> dict[str, Any]:
        return {"archived": True}

    @app.post("/settings/password")
    def password() -> dict[str, Any]:
        return {"changed": True}

    @app.post("/profile/phone")
    @protected_action("identity")
    def phone() -> dict[str, Any]:
        return {"changed": True}

    @app.get("/settings/api-keys/reveal")
    @protected_action("api_keys")
    def reveal() -> dict[str, Any]:
        return {"key": "secret"}

    @app.post("/settings/email")
    @allow_during_impersonation
    def email() -> dict[str, Any]:
        return {"changed": True}

    @app.get("/notify")
    def notify() -> dict[str, Any]:
        return {"result": send_push("hello")}

    @app.get("/api/me")
    async def api_me() -> dict[str, Any]:
        context = current_impersonation()
        return {"subject": context.subject if context else None}

    app.add_middleware(ActAsMiddleware, actas=actas, load_user=load_user)
    return app


# --- Flask (WSGI) ------------------------------------------------------------------------------


def flask_app(actas: ActAs) -> Any:
    from flask import Flask, g, jsonify

    from actas_sdk.flask import init_app

    app = Flask("notes_flask")

    def user_of() -> Any:
        return g.get("actas_user")

    @app.get("/")
    def home() -> str:
        return page(user_of())

    @app.get("/fragment")
    def fragment() -> str:
        return "<div>fragment</div>"

    @app.get("/whoami")
    def who() -> Any:
        return jsonify(whoami(user_of(), g.get("actas")))

    @app.get("/notes/<note_id>")
    def note(note_id: str) -> Any:
        name_resource(f"note:{note_id}")
        return jsonify({"note": note_id})

    @app.post("/notes")
    def create() -> Any:
        return jsonify({"created": True}), 201

    @app.post("/notes/<note_id>/share")
    @requires_scope("notes:share")
    def share(note_id: str) -> Any:
        return jsonify({"shared": True})

    @app.post("/notes/<note_id>/archive")
    def archive(note_id: str) -> Any:
        return jsonify({"archived": True})

    @app.post("/settings/password")
    def password() -> Any:
        return jsonify({"changed": True})

    @app.post("/profile/phone")
    @protected_action("identity")
    def phone() -> Any:
        return jsonify({"changed": True})

    @app.get("/settings/api-keys/reveal")
    @protected_action("api_keys")
    def reveal() -> Any:
        return jsonify({"key": "secret"})

    @app.post("/settings/email")
    @allow_during_impersonation
    def email() -> Any:
        return jsonify({"changed": True})

    @app.get("/notify")
    def notify() -> Any:
        return jsonify({"result": send_push("hello")})

    @app.get("/api/me")
    def api_me() -> Any:
        context = current_impersonation()
        return jsonify({"subject": context.subject if context else None})

    init_app(app, actas, load_user=load_user)
    return app


# --- Django (WSGI) ------------------------------------------------------------------------------

#: The ActAs the Django app of the running test uses (settings.ACTAS_SDK points here).
django_actas: list[ActAs] = []


def current_django_actas() -> ActAs:
    return django_actas[-1]


def configure_django() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only-not-secret",
        ALLOWED_HOSTS=["testserver", "127.0.0.1", "localhost"],
        ROOT_URLCONF="tests.sdk.apps",
        MIDDLEWARE=["actas_sdk.django.ActAsMiddleware"],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
        ACTAS_SDK="tests.sdk.apps.current_django_actas",
        ACTAS_LOAD_USER="tests.sdk.apps.load_user",
        EMAIL_BACKEND="actas_sdk.django.SuppressingEmailBackend",
        ACTAS_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    django.setup()


def django_app(actas: ActAs) -> Any:
    configure_django()
    from django.core.handlers.wsgi import WSGIHandler

    django_actas.append(actas)
    return WSGIHandler()


def _django_views() -> list[Any]:
    from django.core.mail import send_mail
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import path

    def user_of(request: HttpRequest) -> Any:
        return getattr(request, "actas_user", None)

    def home(request: HttpRequest) -> HttpResponse:
        return HttpResponse(page(user_of(request)))

    def fragment(request: HttpRequest) -> HttpResponse:
        return HttpResponse("<div>fragment</div>")

    def who(request: HttpRequest) -> HttpResponse:
        return JsonResponse(whoami(user_of(request), getattr(request, "actas", None)))

    def note(request: HttpRequest, note_id: str) -> HttpResponse:
        name_resource(f"note:{note_id}")
        return JsonResponse({"note": note_id})

    def create(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"created": True}, status=201)

    @requires_scope("notes:share")
    def share(request: HttpRequest, note_id: str) -> HttpResponse:
        return JsonResponse({"shared": True})

    def archive(request: HttpRequest, note_id: str) -> HttpResponse:
        return JsonResponse({"archived": True})

    def password(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"changed": True})

    @protected_action("identity")
    def phone(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"changed": True})

    @protected_action("api_keys")
    def reveal(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"key": "secret"})

    @allow_during_impersonation
    def email(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"changed": True})

    def notify(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"result": send_push("hello")})

    def mail(request: HttpRequest) -> HttpResponse:
        sent = send_mail("Hi", "Body", "app@notes.test", ["jane@customer.test"])
        return JsonResponse({"sent": sent})

    def api_me(request: HttpRequest) -> HttpResponse:
        context = current_impersonation()
        return HttpResponse(
            json.dumps({"subject": context.subject if context else None}),
            content_type="application/json",
        )

    return [
        path("", home),
        path("fragment", fragment),
        path("whoami", who),
        path("notes/<str:note_id>", note),
        path("notes", create),
        path("notes/<str:note_id>/share", share),
        path("notes/<str:note_id>/archive", archive),
        path("settings/password", password),
        path("profile/phone", phone),
        path("settings/api-keys/reveal", reveal),
        path("settings/email", email),
        path("notify", notify),
        path("mail", mail),
        path("api/me", api_me),
    ]


def __getattr__(name: str) -> Any:
    # Django reads ``urlpatterns`` from ROOT_URLCONF lazily, after settings are configured.
    if name == "urlpatterns":
        return _django_views()
    raise AttributeError(name)
