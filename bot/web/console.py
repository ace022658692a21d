"""What every request handler needs: the store, accounts, words, templates and the session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from bot.config import Settings
from bot.i18n import LANGUAGES, negotiate
from bot.ratelimit import FloodGuard
from bot.storage.crypto import Crypto
from bot.storage.notes import Notes
from bot.storage.store import Store, utcnow
from bot.web.accounts import Accounts, WebSession
from bot.web.languages import from_accept_language, language_names
from bot.web.security import CSRF_FIELD, SESSION_COOKIE, back_to, csrf_ok
from bot.web.texts import ConsoleTexts

TEMPLATES = Path(__file__).parent / "templates"
Handler = Callable[[Request, WebSession], Awaitable[Response]]
BEFORE_PASSWORD = frozenset({"/password", "/language"})  # open while a password must change


def templates() -> Jinja2Templates:
    """Jinja2 with autoescaping for every template (patients' words are untrusted text)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    return Jinja2Templates(env=env)


@dataclass
class Console:
    store: Store
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    accounts: Accounts = field(init=False)
    texts: ConsoleTexts = field(init=False)  # the team's language (TEAM_LANGUAGE)
    languages: dict[str, ConsoleTexts] = field(init=False)  # every language, built once
    pages: Jinja2Templates = field(init=False, default_factory=templates)
    login_guard: FloodGuard = field(init=False)
    notes: Notes = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = Accounts(
            self.store, session_hours=self.settings.web_session_hours, clock=self.clock
        )
        zone = self.settings.team_timezone
        self.languages = {lang: ConsoleTexts(lang, zone) for lang in LANGUAGES}
        self.texts = self.languages[negotiate(self.settings.team_language)]
        self.login_guard = FloodGuard(rate=0.1, burst=10)  # per client address
        self.notes = Notes(self.store, Crypto(self.settings.encryption_keys()))
        self.secure = (self.settings.web_base_url or "").startswith("https://")

    def texts_of(self, session: WebSession) -> ConsoleTexts:
        """The words and times of a signed-in account (its own language, else the team's)."""
        return self.languages.get(session.language or "", self.texts)

    def guest_texts(self, request: Request) -> ConsoleTexts:
        """Before sign-in: the browser's language if the catalogs have it, else the team's."""
        header = request.headers.get("accept-language")
        return self.languages[from_accept_language(header, self.texts.lang)]

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        session: WebSession | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        tx = self.guest_texts(request) if session is None else self.texts_of(session)
        base = {
            "L": tx.words,
            "tx": tx,
            "lang": tx.lang,
            "dir": "rtl" if tx.rtl else "ltr",
            "session": session,
            "csrf_field": CSRF_FIELD,
            "languages": language_names(),
            "here": back_to(request),
        }
        response = self.pages.TemplateResponse(
            request, name, {**base, **context}, status_code=status_code
        )
        assert isinstance(response, HTMLResponse)
        if session is None:
            response.headers["Vary"] = "Accept-Language"
        return response

    def message(
        self, request: Request, key: str, status_code: int, session: WebSession | None
    ) -> HTMLResponse:
        """A page with one sentence (not found, forbidden, refused)."""
        words = (self.guest_texts(request) if session is None else self.texts_of(session)).words
        return self.render(
            request, "message.html", {"text": words[key]}, session=session, status_code=status_code
        )


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def signed_in(
    role: str | None = None,
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: sign-in required (else redirect), a role if given, CSRF on POST."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            console = console_of(request)
            session = await console.accounts.session(request.cookies.get(SESSION_COOKIE))
            if session is None:
                return RedirectResponse("/login", status_code=303)
            if session.must_change and request.url.path not in BEFORE_PASSWORD:
                return RedirectResponse("/password", status_code=303)
            if role is not None and session.role != role:
                return console.message(request, "forbidden", 403, session)
            if request.method == "POST":
                form = await request.form()
                if not csrf_ok(form, session.csrf):
                    await console.store.audit(session.actor_key, "web_csrf_refused", None, {})
                    return console.message(request, "refused", 403, session)
            return await handler(request, session)

        return endpoint

    return wrap
