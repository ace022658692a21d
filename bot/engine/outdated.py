"""A conversation left unfinished under an older version of its flow starts again, kindly.

When a release changes a flow's questions or rules, its version goes up. A person who was
half-way through the older version is not carried on with questions their answers were
not given for, and is not silently started again either: the next message they send gets
one line saying the questions have changed, their earlier answers no longer count, and the
first question of the current version follows (after consent, which they keep). A finished
screening stays as it was decided (its referral is shown with the version that decided it,
:mod:`bot.engine.flow_versions`); a request to erase their data is always carried out.
"""

from __future__ import annotations

from bot.engine.engine import DELETE_STEP, Engine
from bot.engine.events import Event, Reply, Result
from bot.engine.flow import Flow
from bot.engine.machine import CONSENT, DECLINED, DONE
from bot.engine.record import Conversation


def outdated(flow: Flow, conv: Conversation) -> bool:
    """Return True when ``conv`` is an unfinished screening of an older version of ``flow``.

    A conversation of an older version that has asked nothing yet is brought to the current
    version in place (and is not outdated): there is nothing to ask again.
    """
    if conv.flow_id != flow.id or conv.flow_version == str(flow.version):
        return False
    if conv.state in (CONSENT, DECLINED) and not conv.answers:
        conv.flow_version = str(flow.version)  # nothing asked yet: nothing to ask again
        return False
    return conv.state != DONE


def erases(event: Event) -> bool:
    """Return True for the events of ``/delete``, which an outdated conversation still obeys."""
    return (event.kind == "command" and event.command == "delete") or event.step == DELETE_STEP


def start_again(engine: Engine, conv: Conversation) -> Result:
    """Withdraw the older version's answers and ask the current first question, saying why."""
    result = engine.handle(conv, Event.cmd("restart"))
    conv.flow_version = str(engine.flow.version)
    t = engine.render.t(conv)
    notice = t.gettext(
        "The questions of this study have changed since you started. "
        "Sorry: I need to ask them again from the start. Your earlier answers no longer count."
    )
    said = engine.render.restarted(conv).text
    replies = [r for r in result.replies if r.text != said]  # instead of "Let's start again"
    result.replies[:] = [Reply(notice), *replies]
    return result
