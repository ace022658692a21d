"""The campaign's figure: cap used while queued, waits beside the ideal sender's, 429s,
completion, exactly-once replies, Bot API calls per screening and the team cards' pace."""

from __future__ import annotations

import math
import os
from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.campaign import Run


def _r(value: float, digits: int = 2) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def queued_seconds(run: Run) -> tuple[int, int]:
    """Campaign seconds in which work was queued (at the second's start, at least a second's
    worth of patients, ``cap``, were waiting for a reply); and the messages sent in them."""
    speed, cap = run.opts.speed, run.opts.cap
    if not run.sends:
        return 0, 0
    events = sorted(run.waiting)
    sends = sorted(t for t, _ in run.sends)
    end = max(sends[-1], events[-1][0] if events else sends[-1])
    seconds = int((end - run.t0) * speed) + 1
    queued = sent = 0
    waiting, e = 0, 0
    for s in range(seconds):
        start = run.t0 + s / speed
        while e < len(events) and events[e][0] <= start:
            waiting += events[e][1]
            e += 1
        if waiting >= cap:
            queued += 1
            sent += bisect_left(sends, start + 1 / speed) - bisect_left(sends, start)
    return queued, sent


def most_in_any(times: Iterable[float], window: float) -> int:
    """Return the most of ``times`` in any ``window`` seconds (one at t counts until t + window)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def team_pace(run: Run) -> int:
    """The most messages the team chat got in any 60 campaign seconds."""
    return most_in_any((t for t, chat in run.sends if chat < 0), 60.0 / run.opts.speed)


def figure(run: Run, played: float, bot_cpu: float) -> dict[str, Any]:
    """The campaign figure for the runner's table and JSON."""
    from benchmarks.campaign import calls_by_kind, ideal_waits, pct

    opts, fake, patients = run.opts, run.fake, run.patients
    completed = [p for p in patients if not p.error and len(p.waits) == len(p.script.steps)]
    waits = [w for p in patients for w in p.waits]
    ideal = ideal_waits(patients, opts.cap)
    queued, sent_queued = queued_seconds(run)
    cap_use = sent_queued / (opts.cap * queued) if queued else math.nan
    extra = sum(max(0, p.received - p.script.messages) for p in completed)
    short = sum(1 for p in completed if p.received < p.script.messages)
    calls = calls_by_kind(fake)
    per_screening = {k: round(v / max(1, len(completed)), 2) for k, v in sorted(calls.items())}
    updates = sum(len(p.waits) for p in patients)
    p95, ideal_p95 = pct(waits, 0.95), pct(ideal, 0.95)
    ratio = p95 / ideal_p95 if ideal_p95 > 0 else math.nan
    cards = run._cards()
    shares = sum(p.script.shares for p in completed)
    pace = team_pace(run)
    floods = dict(fake.floods)
    met = (
        queued > 0
        and cap_use >= 0.95
        and ratio <= 1.2
        and fake.flood_errors == 0
        and len(completed) == len(patients)
        and extra == 0
        and cards >= shares
        and pace <= 20
    )
    return {
        "value": _r(cap_use * 100, 1),
        "unit": "% of the cap while queued",
        "met": met,
        "patients": len(patients),
        "completed": len(completed),
        "errors": sorted({p.error for p in patients if p.error})[:5],
        "duplicate_messages": extra,
        "missing_messages": short,
        "floods": fake.flood_errors,
        "floods_by_limit": floods,
        "queued_seconds": queued,
        "sent_per_queued_second": _r(sent_queued / queued if queued else math.nan),
        "cap_per_second": opts.cap,
        "wait_s": {"p50": _r(pct(waits, 0.5)), "p95": _r(p95), "max": _r(max(waits, default=0))},
        "ideal_wait_s": {
            "p50": _r(pct(ideal, 0.5)),
            "p95": _r(ideal_p95),
            "max": _r(max(ideal, default=0)),
        },
        "p95_over_ideal": _r(ratio),
        "campaign_seconds": _r(played * opts.speed, 1),
        "updates": updates,
        "bot_api_calls_per_screening": per_screening,
        "bot_api_calls_per_update": {
            k: round(v / max(1, updates), 2) for k, v in sorted(calls.items())
        },
        "team_cards": cards,
        "referrals": shares,
        "team_most_per_minute": pace,
        "bot_cpu_share": _r(bot_cpu / played if played else math.nan),
        # a loaded machine starves the bot: at --speed S it must handle about 26 x S updates/s
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "options": {k: getattr(opts, k) for k in vars(opts)},
        **({} if queued else {"reason": "work was never queued: too few patients to fill the cap"}),
    }
