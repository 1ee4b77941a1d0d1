"""The staff console: server-rendered pages over the broker's services (Jinja2, vendored htmx,
a strict Content-Security-Policy and CSRF tokens on every form)."""

from actas.console.routes import router as router

__all__ = ["router"]
