"""The referrals list's date filter: whole days in the hospital's time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day(value: str) -> date | None:
    """A ``YYYY-MM-DD`` from a form field, or None when empty or not a date."""
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


def window(
    first: date | None, last: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """``[start, end)`` in UTC-aware times: from the start of ``first`` to the end of ``last``."""
    start = datetime.combine(first, time(), zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), zone) if last else None
    return start, end


def within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    """Whether ``moment`` falls in the window (an open side is no limit)."""
    return (start is None or moment >= start) and (end is None or moment < end)
