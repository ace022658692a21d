"""Sign in, choose a password, choose the console's language, sign out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.accounts import WebSession
from bot.web.console import console_of, signed_in
from bot.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    csrf_ok,
    local_path,
    new_token,
    set_cookie,
)

LOGIN_FORM_SECONDS = 3600


async def login_page(request: Request) -> Response:
    """The sign-in form, with a fresh CSRF token in a cookie and in the form."""
    return _login(request, None, 200)


def _login(request: Request, error: str | None, status_code: int) -> Response:
    console = console_of(request)
    token = new_token()
    words = console.guest_texts(request).words
    context = {"error": words[error] if error else None, "csrf": token}
    response = console.render(request, "login.html", context, status_code=status_code)
    set_cookie(response, LOGIN_COOKIE, token, max_age=LOGIN_FORM_SECONDS, secure=console.secure)
    return response


async def login(request: Request) -> Response:
    """Check the form's token, the client's pace and the password; start a session."""
    console = console_of(request)
    form = await request.form()
    if not csrf_ok(form, request.cookies.get(LOGIN_COOKIE)):
        return _login(request, "refused", 403)
    client = request.client.host if request.client else "unknown"
    if console.login_guard.delay(client) > 0:  # refused tries keep the address waiting
        return _login(request, "too_fast", 429)
    name, password = form.get("name"), form.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        return _login(request, "wrong", 400)
    result = await console.accounts.sign_in(name.strip(), password)
    if isinstance(result, str):
        return _login(request, result, 401 if result == "wrong" else 423)
    target = "/password" if result.must_change else "/"
    response = RedirectResponse(target, status_code=303)
    lifetime = int(console.accounts.lifetime.total_seconds())
    set_cookie(response, SESSION_COOKIE, result.token, max_age=lifetime, secure=console.secure)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@signed_in()
async def password_page(request: Request, session: WebSession) -> Response:
    """Choose a password (required after a one-time password)."""
    console = console_of(request)
    error = None
    if request.method == "POST":
        form = await request.form()
        new = form.get("password")
        if isinstance(new, str) and await console.accounts.set_password(session, new):
            return RedirectResponse("/", status_code=303)
        error = console.texts_of(session).words["too_short"]
    return console.render(request, "password.html", {"error": error}, session=session)


@signed_in()
async def set_language(request: Request, session: WebSession) -> Response:
    """Speak the chosen language to this account from now on (audited); back to the page."""
    console = console_of(request)
    form = await request.form()
    language = str(form.get("language", ""))
    if not await console.accounts.set_language(session, language):
        return console.message(request, "unknown_language", 400, session)
    return RedirectResponse(local_path(str(form.get("next", "/"))), status_code=303)


@signed_in()
async def logout(request: Request, session: WebSession) -> Response:
    """End the session here and in the database."""
    console = console_of(request)
    await console.accounts.sign_out(session.token)
    await console.store.audit(session.actor_key, "web_sign_out", None, {})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
