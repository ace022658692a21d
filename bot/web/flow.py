"""The Flow page: the screening steps, their branches and the criteria, and the protocol."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from bot.web.accounts import WebSession
from bot.web.console import console_of, signed_in
from bot.web.flowsteps import flow_page


@signed_in()
async def flow(request: Request, session: WebSession) -> Response:
    """The flow the bot screens with, in the account's language (no personal data: every role)."""
    console = console_of(request)
    team = console.texts_of(session).team
    page = await asyncio.to_thread(flow_page, console.settings.flow, team)
    return console.render(request, "flow.html", {"flow": page}, session=session)
