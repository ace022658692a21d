"""``/stats``: the screening funnel as a PNG chart (matplotlib, Agg), in the team's language.

Stages, counted per conversation from ``store.funnel()``:

* started: every conversation; consented: agreed to their health answers being processed;
* completed: an outcome was reached; then likely eligible / needs review / likely ineligible;
* handed off: a referral exists; contacted: the referral reached ``contacted`` or a later
  status other than ``not_reachable``; enrolled.

The chart has two panels, by language and by outreach source (the largest sources, the rest
together). matplotlib's own font has no Chinese glyphs, so :func:`cjk_font` finds an installed
CJK font (Debian's ``fonts-wqy-microhei`` or ``fonts-noto-cjk``; ``.ci/run`` installs the
first), registering the file with matplotlib when its font cache predates the font. When the
fonts at hand cannot draw every label in the team's language (a machine set up only by
``make`` has no CJK font), the chart is drawn in English instead of as empty boxes.
"""

from __future__ import annotations

import glob
import io
import logging
import os
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from babel import Locale

from bot.i18n.languages import DEFAULT_LANGUAGE, babel_locale
from bot.storage.store import FunnelRow
from bot.team.cards import TeamTexts

log = logging.getLogger(__name__)

STAGES = (
    "started",
    "consented",
    "completed",
    "likely_eligible",
    "needs_review",
    "likely_ineligible",
    "handed_off",
    "contacted",
    "enrolled",
)
CONTACTED = frozenset({"contacted", "visit_scheduled", "enrolled", "screen_failed"})
MAX_SOURCES = 6

CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Noto Serif CJK SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
CJK_FILE_PATTERNS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/**/*wqy*.tt[cf]",
    "/usr/share/fonts/**/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/**/NotoSerifCJK*.tt[cf]",
    "/usr/share/fonts/**/DroidSansFallback*.ttf",
)
_render_lock = threading.Lock()  # matplotlib's rc settings are process-wide


def stages_of(row: FunnelRow) -> list[str]:
    """The stages one conversation reached."""
    reached = ["started"]
    if row.consented:
        reached.append("consented")
    if row.outcome is not None:
        reached.append("completed")
        if row.outcome in STAGES:
            reached.append(row.outcome)
    if row.referral_status is not None:
        reached.append("handed_off")
        if row.referral_status in CONTACTED:
            reached.append("contacted")
        if row.referral_status == "enrolled":
            reached.append("enrolled")
    return reached


def totals(rows: Iterable[FunnelRow]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update(stages_of(row))
    return counts


def by_group(rows: Iterable[FunnelRow], key: str) -> dict[str, Counter[str]]:
    """Stage counts per language (``key="lang"``) or per outreach source (``"source"``)."""
    groups: dict[str, Counter[str]] = {}
    for row in rows:
        groups.setdefault(getattr(row, key) or "", Counter()).update(stages_of(row))
    return groups


def stage_labels(texts: TeamTexts) -> dict[str, str]:
    t = texts.t
    return {
        "started": t.pgettext("funnel", "Started"),
        "consented": t.pgettext("funnel", "Consented"),
        "completed": t.pgettext("funnel", "Completed"),
        "likely_eligible": texts.outcome("likely_eligible"),
        "needs_review": texts.outcome("needs_review"),
        "likely_ineligible": texts.outcome("likely_ineligible"),
        "handed_off": t.pgettext("funnel", "Handed off"),
        "contacted": t.pgettext("funnel", "Contacted"),
        "enrolled": t.pgettext("funnel", "Enrolled"),
    }


def language_name(lang: str, team_lang: str) -> str:
    """A language's name in the team's language ("英语" for en in Chinese)."""
    try:
        name = Locale.parse(babel_locale(lang)).get_display_name(babel_locale(team_lang))
    except (ValueError, TypeError):
        name = None
    return name or lang or "?"


@cache
def cjk_font() -> str | None:
    """The family name of an installed CJK font, registered with matplotlib; None if none."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for pattern in CJK_FILE_PATTERNS:
        for path in sorted(glob.glob(pattern, recursive=True)):
            if not os.path.isfile(path):
                continue
            try:
                font_manager.fontManager.addfont(path)
                return str(font_manager.FontProperties(fname=path).get_name())
            except (OSError, RuntimeError, ValueError):
                continue
    log.warning(
        "no CJK font found: Chinese chart labels will not render "
        "(install fonts-wqy-microhei or fonts-noto-cjk)"
    )
    return None


@dataclass
class Chart:
    png: bytes
    font: str | None  # the CJK font used, None when there was none
    labels: list[str] = field(default_factory=list)  # every text drawn, for checks
    missing_glyphs: list[str] = field(default_factory=list)  # matplotlib's warnings
    lang: str = ""  # the language the labels are in


@dataclass
class Panels:
    """Every text of the chart and the counts behind its bars."""

    heading: str
    names: list[str]  # one per stage
    panels: list[tuple[str, list[tuple[str, Counter[str]]]]]
    people: str  # the x axis

    def texts(self) -> list[str]:
        """Return every label the chart will draw."""
        groups = [label for _, panel in self.panels for label, _ in panel]
        return [*self.names, self.heading, *(t for t, _ in self.panels), *groups, self.people]


def panels(rows: Sequence[FunnelRow], texts: TeamTexts, title: str = "") -> Panels:
    """Return the chart's texts in the team's language, and its counts by language and source."""
    t = texts.t
    labels = stage_labels(texts)
    languages = by_group(rows, "lang")
    sources = by_group(rows, "source")
    ranked = sorted(sources, key=lambda s: (-sources[s]["started"], s))
    if len(ranked) > MAX_SOURCES:
        other: Counter[str] = Counter()
        for name in ranked[MAX_SOURCES - 1 :]:
            other.update(sources.pop(name))
        sources["\0other"] = other
        ranked = [*ranked[: MAX_SOURCES - 1], "\0other"]

    def source_name(source: str) -> str:
        if source == "\0other":
            return t.pgettext("funnel", "Other sources")
        return texts.source(source)

    return Panels(
        heading=title or t.pgettext("funnel", "Screening funnel"),
        names=[labels[s] for s in STAGES],
        panels=[
            (
                t.pgettext("funnel", "By language"),
                [(language_name(g, texts.lang), languages[g]) for g in sorted(languages)],
            ),
            (
                t.pgettext("funnel", "By outreach source"),
                [(source_name(g), sources[g]) for g in ranked],
            ),
        ],
        people=t.pgettext("funnel", "People"),
    )


def undrawable(texts: Iterable[str], families: Sequence[str]) -> set[str]:
    """Return the characters of ``texts`` that none of the font ``families`` has."""
    from matplotlib import font_manager

    covered: set[int] = set()
    for family in families:
        try:
            path = font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        covered.update(_charmap(path))
    return {c for text in texts for c in text if not c.isspace() and ord(c) not in covered}


@cache
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(path).get_charmap())


def render_funnel(rows: Sequence[FunnelRow], texts: TeamTexts, *, title: str = "") -> Chart:
    """The funnel chart as PNG bytes (CPU-bound: call it in a thread)."""
    font = cjk_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    chart = panels(rows, texts, title)
    lang = texts.lang
    if undrawable(chart.texts(), families):
        log.warning("the chart's fonts cannot draw %s labels: drawing them in English", lang)
        texts = TeamTexts(DEFAULT_LANGUAGE)
        chart, lang = panels(rows, texts, title), DEFAULT_LANGUAGE
    png, missing = _draw(chart, totals(rows), texts, families)
    return Chart(png, font, chart.texts(), missing, lang)


def _draw(
    chart: Panels, overall: Counter[str], texts: TeamTexts, families: list[str]
) -> tuple[bytes, list[str]]:
    """Draw the two panels; return the PNG and matplotlib's missing-glyph warnings."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _render_lock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}):
            figure = Figure(figsize=(11, 8.5), dpi=100, layout="constrained")
            FigureCanvasAgg(figure)
            figure.suptitle(chart.heading, fontsize=15)
            axes = figure.subplots(1, 2, sharey=True)
            colours = matplotlib.colormaps["tab10"]
            ys = list(range(len(STAGES)))
            for index, (ax, (panel_title, groups)) in enumerate(
                zip(axes, chart.panels, strict=True)
            ):
                ax.set_title(panel_title)
                left = [0] * len(STAGES)
                for n, (group_label, counts) in enumerate(groups):
                    widths = [counts[s] for s in STAGES]
                    ax.barh(ys, widths, left=left, color=colours(n % 10), label=group_label)
                    left = [a + b for a, b in zip(left, widths, strict=True)]
                for y, stage in zip(ys, STAGES, strict=True):
                    ax.text(overall[stage], y, f" {texts.t.number(overall[stage])}", va="center")
                if index == 0:  # the panels share the y axis: label and turn it once
                    ax.set_yticks(ys, chart.names)
                    ax.invert_yaxis()
                else:
                    ax.tick_params(labelleft=False)
                ax.set_xlabel(chart.people)
                ax.set_xlim(0, max(1, overall["started"]) * 1.15)
                if groups:
                    ax.legend(loc="lower right", fontsize=8)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    return buffer.getvalue(), missing
