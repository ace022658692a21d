"""Cookies, CSRF tokens and the security headers of every console response."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"  # the sign-in form's CSRF token, before there is a session
CSRF_FIELD = "csrf"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class SecurityHeaders(BaseHTTPMiddleware):
    """Add the strict Content-Security-Policy and its companions to every response."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(form: FormData, expected: str | None) -> bool:
    """Whether the form carries the expected CSRF token."""
    given = form.get(CSRF_FIELD)
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def set_cookie(response: Response, name: str, value: str, *, max_age: int, secure: bool) -> None:
    """An HTTP-only, same-site cookie for the whole console."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure
    )


def back_to(request: Request) -> str:
    """Where a header form returns to: this page, or the page a form here was posted from."""
    if request.method == "GET":
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    ref = request.path_params.get("ref")
    return f"/referrals/{ref}" if ref else "/"


def local_path(value: str) -> str:
    """``value`` if it is a path on this site (no scheme, no host: no open redirect), else "/"."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return "/" if "\\" in value or any(ord(c) < 32 for c in value) else value
