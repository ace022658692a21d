"""The funnel by language and by source as bar geometry for SVG drawn in the page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bot.storage.store import FunnelRow
from bot.team.cards import TeamTexts
from bot.team.stats import STAGES, panels

BAR_SPACE = 220  # the longest bar, in SVG units
ROW = 22  # height of one stage's row


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    count: int
    width: int
    y: int


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    bars: list[Bar]
    height: int


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    groups: list[Group]


def funnel_panels(rows: Sequence[FunnelRow], texts: TeamTexts) -> tuple[list[str], list[Panel]]:
    """Stage names and, per panel (language, source), one group of bars per value."""
    found = panels(rows, texts)
    scale = max((c.get("started", 0) for _, p in found.panels for _, c in p), default=0)
    return found.names, [
        Panel(title, [_group(name, counts, found.names, scale) for name, counts in groups])
        for title, groups in found.panels
    ]


def _group(name: str, counts: Counter[str], names: list[str], scale: int) -> Group:
    bars = [
        Bar(label, counts.get(stage, 0), _width(counts.get(stage, 0), scale), i * ROW)
        for i, (stage, label) in enumerate(zip(STAGES, names, strict=True))
    ]
    return Group(name, bars, len(bars) * ROW)


def _width(count: int, scale: int) -> int:
    if not scale or not count:
        return 0
    return max(1, round(BAR_SPACE * count / scale))
