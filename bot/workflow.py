"""The referral workflow: which status may follow which, and what a coordinator may do.

Statuses move ``new → contacted → visit_scheduled → enrolled / screen_failed``;
``not_reachable`` is offered on an open referral after :data:`ATTEMPTS_BEFORE_NOT_REACHABLE`
recorded call attempts (a patient who calls back moves from there to ``contacted``), and
:data:`ATTEMPT` records one more attempt. The store refuses a change this module does not
allow; the Telegram team side and the web console offer exactly :func:`actions_for`.
Nothing here imports storage, so storage can import it.
"""

from __future__ import annotations

from bot.engine.rules import Verdict

REFERRAL_STATUSES = (
    "new",
    "contacted",
    "visit_scheduled",
    "enrolled",
    "screen_failed",
    "not_reachable",
)
OPEN_REFERRAL_STATUSES = ("new", "contacted", "visit_scheduled")
#: Which status may follow which. The store refuses anything else.
NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    "new": ("contacted",),
    "contacted": ("visit_scheduled", "screen_failed"),
    "visit_scheduled": ("enrolled", "screen_failed"),
    "not_reachable": ("contacted",),  # the patient called back after all
    "enrolled": (),
    "screen_failed": (),
}
#: An open referral may become ``not_reachable`` after this many recorded call attempts.
ATTEMPTS_BEFORE_NOT_REACHABLE = 3
ATTEMPT = "attempt"  # action: record a call attempt
SHOW = "show"  # action: post the referral's card again
#: How a criterion's verdict is shown on a card and in the console.
ICONS = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.UNKNOWN: "❔", Verdict.PENDING: "❔"}


def next_statuses(status: str, attempts: int) -> tuple[str, ...]:
    """The statuses a referral in ``status`` may move to, after ``attempts`` call attempts."""
    following = NEXT_STATUSES.get(status, ())
    if status in OPEN_REFERRAL_STATUSES and attempts >= ATTEMPTS_BEFORE_NOT_REACHABLE:
        following = (*following, "not_reachable")
    return following


def actions_for(status: str, attempts: int) -> list[str]:
    """The actions a referral in ``status`` offers, after ``attempts`` recorded call attempts."""
    actions = list(next_statuses(status, attempts))
    if status in OPEN_REFERRAL_STATUSES:
        actions.append(ATTEMPT)
    return actions


def allowed(action: str, status: str, attempts: int) -> bool:
    """Whether ``action`` may be taken on a referral in ``status`` (else the card was stale)."""
    return action in actions_for(status, attempts)
