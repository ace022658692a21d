"""Referrals as a CSV file (``/export`` and the digest of a burst).

One row per referral; columns (stable ids, so a spreadsheet or a script can rely on them):

* ``ref``, ``status``, ``outcome``, ``protocol``, ``flow``, ``flow_version``, ``lang``,
  ``source``, ``created_at``, ``acknowledged_at`` (ISO 8601, Shanghai time), ``attempts``;
* the contact: ``name``, ``phone``, ``email``, ``telegram``, ``best_time``, ``call_lang``;
* ``criterion:<id>``: ``pass``, ``fail`` or ``unknown``, one per criterion;
* ``answer:<fact>`` (an option id or a number, in the unit named in the header, e.g.
  ``answer:weight [kg]``) and ``words:<fact>`` (what the patient typed), one pair per fact;
  then one column per value the flow works out, named by its id (``bmi``), from the
  referral's exact answers with the flow's rounding.

The file is UTF-8 with a byte-order mark, so spreadsheet programs read Chinese correctly.
A cell that starts like a formula (``=``, ``+``, ``-``, ``@``) is prefixed with ``'`` unless
it is a plain number or phone number: patients' words never run as formulas.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.engine.answers import canonical_unit
from bot.engine.rules import Verdict
from bot.storage.store import ReferralDetails
from bot.team.cards import TeamTexts
from bot.team.lines import TEAM_TZ
from bot.team.screening import counted_answers, derived_values, flow_for

BASE_COLUMNS = (
    "ref",
    "status",
    "outcome",
    "protocol",
    "flow",
    "flow_version",
    "lang",
    "source",
    "created_at",
    "acknowledged_at",
    "attempts",
    "name",
    "phone",
    "email",
    "telegram",
    "best_time",
    "call_lang",
)
_NUMBER_LIKE = re.compile(r"^[+-]?[\d\s().-]+$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A cell that a spreadsheet will not run as a formula."""
    if value.startswith(_FORMULA_START) and not _NUMBER_LIKE.match(value):
        return "'" + value
    return value


@dataclass
class _Columns:
    """Criterion ids, facts (with their headers) and derived values across the flows."""

    criteria: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)


def _columns(referrals: Sequence[ReferralDetails]) -> _Columns:
    """The columns the referrals' flows (in their versions) need, in flow order."""
    cols = _Columns()
    for flow_id, version in dict.fromkeys((r.flow_id, r.flow_version) for r in referrals):
        flow = flow_for(flow_id, version)
        if flow is None:
            continue
        cols.criteria += [c.id for c in flow.criteria if c.id not in cols.criteria]
        cols.derived += [d.id for d in flow.derived if d.id not in cols.derived]
        for q in flow.questions:
            if q.id in cols.facts:
                continue
            cols.facts.append(q.id)
            unit = canonical_unit(q.measure.quantity) if q.measure is not None else ""
            cols.headers[q.id] = f"answer:{q.id} [{unit}]" if unit else f"answer:{q.id}"
    for r in referrals:  # answers the flows do not know (a version no longer kept)
        for fact in r.answers:
            if fact not in cols.facts:
                cols.facts.append(fact)
                cols.headers[fact] = f"answer:{fact}"
    return cols


def referrals_csv(referrals: Sequence[ReferralDetails], texts: TeamTexts | None = None) -> bytes:
    """The CSV file of ``referrals`` (UTF-8 with BOM)."""
    texts = texts or TeamTexts("en")
    cols = _columns(referrals)
    header = [*BASE_COLUMNS, *(f"criterion:{c}" for c in cols.criteria)]
    for fact in cols.facts:
        header += [cols.headers[fact], f"words:{fact}"]
    header += cols.derived
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for r in referrals:
        contact = r.contact
        verdicts = {cid: v for cid, _title, v in texts.verdicts(r)}
        row = [
            r.ref_code,
            r.status,
            r.outcome,
            r.decision.protocol_version if r.decision else "",
            r.flow_id,
            r.flow_version,
            r.lang,
            r.source,
            r.created_at.astimezone(TEAM_TZ).isoformat(timespec="seconds"),
            r.acknowledged_at.astimezone(TEAM_TZ).isoformat(timespec="seconds")
            if r.acknowledged_at
            else "",
            str(r.attempts),
            (contact.name if contact else None) or "",
            (contact.phone if contact else None) or "",
            (contact.email if contact else None) or "",
            f"@{contact.username}" if contact and contact.username else "",
            (contact.best_time if contact else None) or "",
            (contact.call_lang if contact else None) or "",
        ]
        row += [_verdict(verdicts.get(c)) for c in cols.criteria]
        answers = counted_answers(r)
        for fact in cols.facts:
            answer = answers.get(fact)
            row += [answer.value, answer.raw] if answer else ["", ""]
        figures = derived_values(r)
        row += [str(figures[d]) if d in figures else "" for d in cols.derived]
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue().encode("utf-8-sig")


def _verdict(verdict: Verdict | None) -> str:
    if verdict is None:
        return ""
    return Verdict.UNKNOWN.value if verdict is Verdict.PENDING else verdict.value
