"""Named points where a crash test can have the process kill itself (never set in production).

``TRIALBOT_CRASH_AT=<point>[.<kind>]:<n>`` sends SIGKILL to this process the n-th time it
reaches ``point`` (for updates of ``kind`` only, when given). The points are those where a
crash hurts most: ``fetched`` (a batch came from Telegram, not yet stored), ``received``
(stored, Telegram not yet told), ``committed`` (the turn committed, no reply sent),
``replied`` (the replies sent, the update not yet marked done).
"""

from __future__ import annotations

import os
import signal

_PLAN = os.environ.get("TRIALBOT_CRASH_AT", "")
_seen: dict[str, int] = {}


def reached(point: str, kind: str = "") -> None:
    """Kill this process when the plan names this point and its count is reached."""
    if not _PLAN:
        return
    name, _, count = _PLAN.partition(":")
    if name not in (point, f"{point}.{kind}"):
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
