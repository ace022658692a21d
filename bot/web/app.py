"""The console's ASGI application: routes, security headers, static style sheet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.config import Settings
from bot.storage.store import Store, utcnow
from bot.web import auth, flow, notes, views
from bot.web.console import TEMPLATES, Console
from bot.web.security import SecurityHeaders

REF = "{ref:str}"


def create_app(
    store: Store, settings: Settings, *, clock: Callable[[], datetime] = utcnow
) -> Starlette:
    """The console over an open ``Store`` (the caller opens and closes it)."""
    routes = [
        Route("/", views.home),
        Route("/login", auth.login_page, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/password", auth.password_page, methods=["GET", "POST"]),
        Route("/language", auth.set_language, methods=["POST"]),
        Route("/counts", views.counts),
        Route("/referrals", views.referrals),
        Route("/export", views.export, methods=["POST"]),
        Route(f"/referrals/{REF}", views.referral),
        Route(f"/referrals/{REF}/contact", views.contact, methods=["POST"]),
        Route(f"/referrals/{REF}/status", views.change_status, methods=["POST"]),
        Route(f"/referrals/{REF}/notes", notes.add_note, methods=["POST"]),
        Route("/flow", flow.flow),
        Mount("/static", StaticFiles(directory=TEMPLATES / "static"), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.console = Console(store, settings, clock)
    return app
