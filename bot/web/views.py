"""Pages: counts, the referrals list, a referral, and the actions on it."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.storage.errors import StaleStatusError
from bot.storage.store import ReferralDetails
from bot.team.card_edits import queue_card_edit
from bot.team.export import referrals_csv
from bot.team.outbox import queue_patient_notice
from bot.team.stats import STAGES, stage_labels, totals
from bot.web import dates
from bot.web.accounts import WebSession
from bot.web.console import Console, console_of, signed_in
from bot.web.funnel import funnel_panels
from bot.web.history import console_names, status_history
from bot.web.texts import ConsoleTexts
from bot.workflow import ATTEMPT, ICONS, REFERRAL_STATUSES, actions_for, allowed

FILTERS = ("status", "outcome", "lang", "source")
OUTCOMES = ("likely_eligible", "needs_review", "likely_ineligible")


@signed_in()
async def home(request: Request, session: WebSession) -> Response:
    """Coordinators start at the referrals, viewers at the counts."""
    return RedirectResponse("/referrals" if session.coordinator else "/counts", status_code=303)


@signed_in()
async def counts(request: Request, session: WebSession) -> Response:
    """How many people reached each stage (no personal data: every role may see it)."""
    console = console_of(request)
    team = console.texts_of(session).team
    funnel = await console.store.funnel()
    found = totals(funnel)
    names = stage_labels(team)
    rows = [(names[stage], found.get(stage, 0)) for stage in STAGES]
    stages, charts = funnel_panels(funnel, team)
    context = {"rows": rows, "stages": stages, "charts": charts}
    return console.render(request, "counts.html", context, session=session)


@signed_in("coordinator")
async def referrals(request: Request, session: WebSession) -> Response:
    """All referrals, newest first, filtered by status, outcome, language, source and the
    day they arrived (from, to: hospital time)."""
    console = console_of(request)
    found = await console.store.referrals()
    chosen = {key: request.query_params.get(key, "") for key in FILTERS}
    options = {
        "status": list(REFERRAL_STATUSES),
        "outcome": list(OUTCOMES),
        "lang": sorted({r.lang for r in found}),
        "source": sorted({r.source for r in found}),
    }
    first, last = (dates.day(request.query_params.get(k, "")) for k in ("from", "to"))
    start, end = dates.window(first, last, console.texts_of(session).zone)
    shown = [
        r
        for r in sorted(found, key=lambda r: r.created_at, reverse=True)
        if all(not chosen[k] or getattr(r, k) == chosen[k] for k in FILTERS)
        and dates.within(r.created_at, start, end)
    ]
    await console.store.audit(session.actor_key, "web_referrals_listed", None, {"n": len(shown)})
    chosen["from"], chosen["to"] = (d.isoformat() if d else "" for d in (first, last))
    context = {"rows": shown, "chosen": chosen, "options": options, "now": console.clock()}
    return console.render(request, "referrals.html", context, session=session)


@signed_in("coordinator")
async def export(request: Request, session: WebSession) -> Response:
    """The CSV file ``/export`` sends in Telegram, with its formula-injection guard; audited."""
    console = console_of(request)
    found = await console.store.referrals()
    texts = console.texts_of(session)
    data = await asyncio.to_thread(referrals_csv, found, texts.team)
    await console.store.audit(session.actor_key, "web_export", None, {"n": len(found)})
    stamp = console.clock().astimezone(texts.zone).strftime("%Y-%m-%d-%H%M")
    disposition = f'attachment; filename="referrals-{stamp}.csv"'
    headers = {"Content-Disposition": disposition}
    return Response(data, media_type="text/csv; charset=utf-8", headers=headers)


@signed_in("coordinator")
async def referral(request: Request, session: WebSession) -> Response:
    """One referral, without its contact details (those take one more, audited, step)."""
    return await referral_page(request, session, contact=False, note=None)


@signed_in("coordinator")
async def contact(request: Request, session: WebSession) -> Response:
    """The same page with the contact details; the audit log records who opened them."""
    return await referral_page(request, session, contact=True, note=None)


async def referral_page(
    request: Request, session: WebSession, *, contact: bool, note: str | None
) -> Response:
    console = console_of(request)
    ref = request.path_params["ref"]
    details = await console.store.referral(ref)
    if details is None:
        return console.message(request, "not_found", 404, session)
    action = "web_contact_viewed" if contact else "web_referral_viewed"
    await console.store.audit(session.actor_key, action, ref, {})
    texts = console.texts_of(session)
    context = await _referral_context(console, texts, details, contact=contact)
    context["note"] = texts.words[note] if note else None
    return console.render(request, "referral.html", context, session=session)


async def _referral_context(
    console: Console, texts: ConsoleTexts, details: ReferralDetails, *, contact: bool
) -> dict[str, Any]:
    team = texts.team
    names = await console_names(console.store)
    history = [
        (step, names.get(step.actor_hash or "", texts.words["telegram_team"]))
        for step in await status_history(console.store, details.ref_code)
    ]
    return {
        "r": details,
        "verdicts": [(ICONS[v], title) for _cid, title, v in team.verdicts(details)],
        "answers": team.answer_rows(details),
        "history": history,
        "actions": [(a, team.action(a)) for a in actions_for(details.status, details.attempts)],
        "contact": details.contact if contact else None,
        "team": team,
        "notes": await console.notes.of(details.ref_code),
    }


@signed_in("coordinator")
async def change_status(request: Request, session: WebSession) -> Response:
    """Apply a status button with the store's workflow; a stale page is shown afresh."""
    console = console_of(request)
    store = console.store
    ref = request.path_params["ref"]
    form = await request.form()
    action, seen = str(form.get("action", "")), str(form.get("expected", ""))
    details = await store.referral(ref)
    if details is None:
        return console.message(request, "not_found", 404, session)
    if details.status != seen or not allowed(action, details.status, details.attempts):
        return await referral_page(request, session, contact=False, note="stale")
    if action == ATTEMPT:
        attempts = await store.record_contact_attempt(ref, session.actor_key)
        first = await store.acknowledge(ref, session.actor_key)
        at = console.clock()
    else:
        try:
            change = await store.set_referral_status(ref, action, session.actor_key, expected=seen)
        except StaleStatusError:
            return await referral_page(request, session, contact=False, note="stale")
        first, at, attempts = change.first_acknowledgement, change.at, details.attempts
    await queue_card_edit(store, ref, session.name, action, at, attempts)
    if first:
        await queue_patient_notice(console.store, details)
    return await referral_page(request, session, contact=False, note="saved")
