"""Load a flow from ``flows/*.yaml`` into typed objects, validating every part of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from bot.datadir import data_dir
from bot.engine.answers import BareRule, MeasureSpec
from bot.engine.derived import Derived, parse_derived
from bot.engine.errors import FlowError
from bot.engine.facts import FactView
from bot.engine.flow_ids import check_option_id, check_question_id
from bot.engine.rules import (
    Condition,
    FactInfo,
    Rule,
    RuleError,
    Verdict,
    compile_condition,
    compile_rule,
)
from bot.engine.safety import Safety, parse_safety
from bot.engine.units import load_units

SCHEMA = 1
FLOWS_DIR = data_dir("flows", "FLOWS_DIR")  # FLOWS_DIR in the environment, else the package's
_QUESTION_KEYS = frozenset(
    {
        "id",
        "kind",
        "text",
        "why",
        "options",
        "when",
        "quantity",
        "units",
        "bare",
        "ask_units",
        "plausible",
        "whole",
        "dont_know",
        "label",
    }
)
_MEASURE_ONLY = frozenset({"quantity", "units", "bare", "ask_units", "plausible", "whole"})
_CRITERION_KEYS = frozenset({"id", "listing", "title", "fail", "unknown", "rule"})
_TOP_KEYS = frozenset(
    {
        "schema",
        "id",
        "version",
        "protocol",
        "title",
        "site",
        "minutes",
        "option_sets",
        "questions",
        "criteria",
        "safety",
        "derived",
    }
)
DONT_KNOW = "unknown"


@dataclass(frozen=True)
class Option:
    """One answer a patient can tap; ``label`` is English source text."""

    id: str
    label: str


@dataclass(frozen=True)
class Question:
    """One fact the flow asks for."""

    id: str
    kind: str  # "choice" or "measurement"
    text: str
    why: str
    options: tuple[Option, ...]  # for a measurement: the "I don't know" button, if offered
    when: Condition | None = None
    when_facts: frozenset[str] = frozenset()
    measure: MeasureSpec | None = None
    label: str = ""  # a short name for the study team (English source text)

    @property
    def option_ids(self) -> frozenset[str]:
        """Return the ids of the options a patient can tap."""
        return frozenset(o.id for o in self.options)


@dataclass(frozen=True)
class Criterion:
    """One eligibility criterion and the plain words that explain it."""

    id: str
    listing: str
    title: str
    fail_text: str
    unknown_text: str
    rule: Rule
    facts: frozenset[str]


@dataclass(frozen=True)
class Flow:
    """A validated flow: its questions in order and its criteria."""

    id: str
    version: int
    protocol: str
    title: str
    site: str
    minutes: int
    questions: tuple[Question, ...]
    criteria: tuple[Criterion, ...]
    source: str = ""
    safety: Safety = field(default_factory=Safety)
    derived: tuple[Derived, ...] = ()
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _last: dict[str, FactView] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({q.id: i for i, q in enumerate(self.questions)})

    def question(self, qid: str) -> Question:
        """Return the question with id ``qid``."""
        return self.questions[self._index[qid]]

    def has_question(self, qid: str) -> bool:
        """Return True when ``qid`` names a question of this flow."""
        return qid in self._index

    def position(self, qid: str) -> int:
        """Return the 0-based position of question ``qid``."""
        return self._index[qid]

    def derived_after(self, qid: str) -> tuple[Derived, ...]:
        """Return the derived values shown after question ``qid`` (the last fact they read)."""
        return tuple(d for d in self.derived if max(d.facts, key=self.position) == qid)

    @cached_property
    def conditions(self) -> dict[str, Condition]:
        """Return each conditional question's ``when``, keyed by question id."""
        return {q.id: q.when for q in self.questions if q.when is not None}

    def view(self, answers: Mapping[str, Any]) -> FactView:
        """Return the rules' view of ``answers``.

        The last view is kept and given again while the answers are the same: one event
        asks for it several times (the machine's conditions, the progress line, the
        outcome), and the engine is synchronous, so nothing changes in between.
        """
        last = self._last.get("view")
        if last is not None and last.same_answers(answers):
            return last
        view = self._last["view"] = FactView(answers, self.conditions)
        return view

    def evaluate(self, view: FactView) -> dict[str, Verdict]:
        """Return every criterion's verdict, in the flow's order (once per view)."""
        if view.verdicts is None:
            view.verdicts = {c.id: c.rule(view) for c in self.criteria}
        return dict(view.verdicts)


def _need(data: Mapping[str, Any], key: str, kind: type, where: str, source: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise FlowError(source, where, f"'{key}' must be a non-empty {kind.__name__}")
    return value


def _check_keys(data: Any, allowed: frozenset[str], where: str, source: str) -> None:
    if not isinstance(data, dict):
        raise FlowError(source, where, "must be a mapping")
    extra = sorted(set(data) - allowed)
    if extra:
        raise FlowError(source, where, f"unknown key(s) {extra}")


def _options(
    raw: Any, sets: Mapping[str, Any], qid: str, where: str, source: str
) -> tuple[Option, ...]:
    if isinstance(raw, str):
        if raw not in sets:
            raise FlowError(source, where, f"unknown option set {raw!r}")
        raw = sets[raw]
    if not isinstance(raw, list) or not raw:
        raise FlowError(source, where, "'options' must be a non-empty list or an option set name")
    options = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != {"id", "label"}:
            raise FlowError(source, where, f"an option needs exactly 'id' and 'label': {item!r}")
        if not isinstance(item["id"], str) or not isinstance(item["label"], str):
            raise FlowError(
                source, where, f"option id and label must be strings (quote yes/no): {item!r}"
            )
        options.append(Option(item["id"], item["label"]))
    ids = [o.id for o in options]
    for oid in ids:
        check_option_id(qid, oid, where, source)
    if len(set(ids)) != len(ids):
        raise FlowError(source, where, f"duplicate option ids {ids}")
    return tuple(options)


def _optional_text(data: Mapping[str, Any], key: str, where: str, source: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise FlowError(source, where, f"'{key}' must be text")
    return value.strip()


def _decimal(value: Any, where: str, source: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise FlowError(source, where, f"{value!r} is not a number") from None


def _measure(data: Mapping[str, Any], where: str, source: str) -> MeasureSpec:
    units = load_units()
    quantity = _need(data, "quantity", str, where, source)
    if quantity not in units.quantities:
        raise FlowError(source, where, f"unknown quantity {quantity!r}")
    known = set(units.quantities[quantity].units)
    accepted = tuple(_need(data, "units", list, where, source))
    ask = tuple(data.get("ask_units") or ())
    for unit in (*accepted, *ask):
        if unit not in known:
            raise FlowError(source, where, f"{quantity} has no unit {unit!r}")
    bare = []
    for rule in data.get("bare") or []:
        if not isinstance(rule, dict) or rule.get("unit") not in accepted:
            raise FlowError(source, where, f"a bare rule needs a unit from 'units': {rule!r}")
        extra = set(rule) - {"unit", "gt", "ge", "lt", "le"}
        if extra:
            raise FlowError(source, where, f"unknown bare-rule key(s) {sorted(extra)}")
        bounds = {
            k: _decimal(rule[k], where, source) for k in ("gt", "ge", "lt", "le") if k in rule
        }
        bare.append(BareRule(unit=rule["unit"], **bounds))
    plausible = _need(data, "plausible", dict, where, source)
    if set(plausible) != {"min", "max"}:
        raise FlowError(source, where, "'plausible' needs exactly 'min' and 'max'")
    if not bare and not ask:
        raise FlowError(source, where, "a measurement needs 'bare' rules or 'ask_units'")
    return MeasureSpec(
        quantity=quantity,
        units=accepted,
        bare=tuple(bare),
        ask=ask,
        plausible_min=_decimal(plausible["min"], where, source),
        plausible_max=_decimal(plausible["max"], where, source),
        whole=bool(data.get("whole", False)),
    )


_Staged = list[tuple[dict[str, Any], str, tuple[Option, ...]]]


def _entries(
    raw_items: list[Any],
    noun: str,
    keys: frozenset[str],
    source: str,
    check_id: Callable[[str, str, str], None] | None = None,
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Each entry of a list of ``noun``s as (id, mapping, where), checked: a mapping with
    a string ``id`` (passing ``check_id``), only known keys, no id twice."""
    seen: set[str] = set()
    for index, raw in enumerate(raw_items):
        where = f"{noun} #{index + 1}"
        if not isinstance(raw, dict):
            raise FlowError(source, where, "must be a mapping")
        ident = _need(raw, "id", str, where, source)
        where = f"{noun} {ident!r}"
        if check_id is not None:
            check_id(ident, where, source)
        _check_keys(raw, keys, where, source)
        if ident in seen:
            raise FlowError(source, where, f"duplicate {noun} id")
        seen.add(ident)
        yield ident, raw, where


def _stage_questions(
    raw_questions: list[Any], sets: Mapping[str, Any], source: str
) -> tuple[dict[str, FactInfo], _Staged]:
    """First pass: ids, kinds and options, so rules and conditions can be checked."""
    infos: dict[str, FactInfo] = {}
    staged: _Staged = []
    entries = _entries(raw_questions, "question", _QUESTION_KEYS, source, check_question_id)
    for index, (qid, raw, where) in enumerate(entries):
        kind = raw.get("kind")
        if kind == "choice":
            if _MEASURE_ONLY & set(raw):
                raise FlowError(
                    source, where, f"a choice has no {sorted(_MEASURE_ONLY & set(raw))}"
                )
            options = _options(raw.get("options"), sets, qid, where, source)
        elif kind == "measurement":
            if "options" in raw:
                raise FlowError(source, where, "a measurement has no 'options'")
            dont_know = raw.get("dont_know", True)
            options = (Option(DONT_KNOW, "I don't know this value"),) if dont_know else ()
        else:
            raise FlowError(source, where, f"'kind' must be choice or measurement, not {kind!r}")
        infos[qid] = FactInfo(kind, frozenset(o.id for o in options), index)
        staged.append((raw, where, options))
    return infos, staged


def _questions(staged: _Staged, infos: dict[str, FactInfo], source: str) -> list[Question]:
    """Second pass: conditions (reading only earlier facts), measures and texts."""
    questions = []
    for raw, where, options in staged:
        qid = raw["id"]
        when, when_facts = None, frozenset[str]()
        if "when" in raw:
            try:
                when, when_facts = compile_condition(raw["when"], infos)
            except RuleError as exc:
                raise FlowError(source, where, f"when: {exc}") from None
            later = [f for f in when_facts if infos[f].position >= infos[qid].position]
            if later:
                raise FlowError(
                    source, where, f"'when' reads {later}, which are not asked before it"
                )
        questions.append(
            Question(
                id=qid,
                kind=raw["kind"],
                text=_need(raw, "text", str, where, source),
                why=raw.get("why", "") or "",
                options=options,
                when=when,
                when_facts=when_facts,
                measure=_measure(raw, where, source) if raw["kind"] == "measurement" else None,
                label=_optional_text(raw, "label", where, source),
            )
        )
    if questions and questions[0].when is not None:
        raise FlowError(
            source, f"question {questions[0].id!r}", "the first question must always be asked"
        )
    return questions


def _criteria(
    raw_criteria: list[Any],
    infos: dict[str, FactInfo],
    derived: Mapping[str, Derived],
    source: str,
) -> list[Criterion]:
    criteria = []
    for cid, raw, where in _entries(raw_criteria, "criterion", _CRITERION_KEYS, source):
        try:
            rule, facts = compile_rule(raw.get("rule"), infos, derived)
        except RuleError as exc:
            raise FlowError(source, where, f"rule: {exc}") from None
        criteria.append(
            Criterion(
                id=cid,
                listing=str(raw.get("listing", "")),
                title=_need(raw, "title", str, where, source),
                fail_text=_need(raw, "fail", str, where, source),
                unknown_text=_need(raw, "unknown", str, where, source),
                rule=rule,
                facts=facts,
            )
        )
    return criteria


def parse_flow(data: Any, source: str = "<flow>") -> Flow:
    """Validate raw flow data and compile it; raise FlowError naming what is wrong."""
    _check_keys(data, _TOP_KEYS, "flow", source)
    if data.get("schema") != SCHEMA:
        raise FlowError(source, "flow", f"'schema' must be {SCHEMA}")
    flow_id = _need(data, "id", str, "flow", source)
    version = _need(data, "version", int, "flow", source)
    sets = data.get("option_sets") or {}
    raw_questions = _need(data, "questions", list, "flow", source)
    raw_criteria = _need(data, "criteria", list, "flow", source)
    infos, staged = _stage_questions(raw_questions, sets, source)
    questions = _questions(staged, infos, source)
    derived = parse_derived(data.get("derived"), {q.id: q.measure for q in questions}, source)
    criteria = _criteria(raw_criteria, infos, {d.id: d for d in derived}, source)
    if not questions or not criteria:
        raise FlowError(source, "flow", "a flow needs at least one question and one criterion")
    return Flow(
        id=flow_id,
        version=version,
        protocol=_need(data, "protocol", str, "flow", source),
        title=_need(data, "title", str, "flow", source),
        site=_need(data, "site", str, "flow", source),
        minutes=int(data.get("minutes", 5)),
        questions=tuple(questions),
        criteria=tuple(criteria),
        source=source,
        safety=parse_safety(data.get("safety"), infos, source),
        derived=derived,
    )


def load_flow(path: Path | str) -> Flow:
    """Load and validate one flow file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlowError(str(path), "file", f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise FlowError(str(path), "file", f"not valid YAML: {exc}") from None
    return parse_flow(data, str(path))


def flow_path(flow_id: str) -> Path:
    """Return the file of the flow called ``flow_id`` in ``flows/``."""
    return FLOWS_DIR / f"{flow_id}.yaml"
