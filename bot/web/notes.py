"""Coordinators' notes on a referral: added from its page, listed with who and when, audited."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bot.storage.notes import MAX_NOTE
from bot.web.accounts import WebSession
from bot.web.console import console_of, signed_in
from bot.web.views import referral_page


@signed_in("coordinator")
async def add_note(request: Request, session: WebSession) -> Response:
    """Add the form's note to the referral (its text is never logged nor audited)."""
    console = console_of(request)
    ref = request.path_params["ref"]
    form = await request.form()
    text = str(form.get("text", "")).strip()
    if not text:
        return await referral_page(request, session, contact=False, note="note_empty")
    if not await console.notes.add(ref, session.name, text[:MAX_NOTE], console.clock()):
        return console.message(request, "not_found", 404, session)
    await console.store.audit(session.actor_key, "web_note_added", ref, {"chars": len(text)})
    return await referral_page(request, session, contact=False, note="note_added")
