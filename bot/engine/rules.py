"""The closed registry of predicates that flow data may name.

Criteria and ``when`` conditions in ``flows/*.yaml`` are small trees of dicts. Each
node has exactly one key, the name of a predicate registered here, and its arguments.
Loading compiles the tree into plain callables and checks every fact and option it
names, so a broken flow fails at start-up, never in a conversation.

Criteria return one of four verdicts. ``PENDING`` means "could still change": a fact
it needs may still be asked. A ``FAIL`` is only returned once no later answer can
undo it, which is what lets the flow stop early on the answer that decided it.

Measurement predicates see each answer as a range (:mod:`bot.engine.spans`): a value
written as a bound ("<0.1") passes or fails only when every value it allows does,
and is unknown otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from bot.engine.answers import bmi
from bot.engine.derived import Derived
from bot.engine.facts import UNKNOWN, Fact, FactView
from bot.engine.spans import Span


class Verdict(Enum):
    """What a criterion says about a conversation."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    PENDING = "pending"


YES = "yes"
Rule = Callable[[FactView], Verdict]
Condition = Callable[[FactView], bool | None]  # None: cannot tell yet


@dataclass(frozen=True)
class FactInfo:
    """What the rule compiler needs to know about one fact of the flow."""

    kind: str  # "choice" or "measurement"
    options: frozenset[str]
    position: int  # order in which the flow asks it


class RuleError(ValueError):
    """A rule or condition in flow data is malformed."""


def _combine_all(verdicts: Sequence[Verdict]) -> Verdict:
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.PENDING in verdicts:
        return Verdict.PENDING
    if Verdict.UNKNOWN in verdicts:
        return Verdict.UNKNOWN
    return Verdict.PASS


class _Compiler:
    """Turn rule and condition trees into callables, checking them against the facts."""

    def __init__(
        self, facts: Mapping[str, FactInfo], derived: Mapping[str, Derived] | None = None
    ) -> None:
        self.facts = facts
        self.derived = derived or {}
        self.used: set[str] = set()

    # -- shared argument checks ------------------------------------------------------

    def fact(self, name: Any, kind: str | None = None) -> str:
        if not isinstance(name, str) or name not in self.facts:
            raise RuleError(f"unknown fact {name!r}")
        if kind and self.facts[name].kind != kind:
            raise RuleError(f"fact {name!r} is not a {kind}")
        self.used.add(name)
        return name

    def option_list(self, fact: str, values: Any) -> frozenset[str]:
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise RuleError(f"options of {fact!r} must be a list of option ids (quote yes/no)")
        unknown = set(values) - self.facts[fact].options
        if unknown:
            raise RuleError(f"{fact!r} has no option {sorted(unknown)}")
        return frozenset(values)

    def yes_facts(self, names: Any) -> tuple[str, ...]:
        if not isinstance(names, list) or not names:
            raise RuleError("expects a non-empty list of facts")
        result = tuple(self.fact(n, "choice") for n in names)
        for name in result:
            if YES not in self.facts[name].options:
                raise RuleError(f"fact {name!r} has no 'yes' option")
        return result

    @staticmethod
    def number(value: Any, what: str) -> Decimal:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise RuleError(f"{what} must be a number, not {value!r}") from None

    @staticmethod
    def args(
        node: Any, required: set[str], optional: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        if not isinstance(node, dict):
            raise RuleError(f"expects a mapping with {sorted(required)}")
        missing = required - node.keys()
        extra = node.keys() - required - optional
        if missing:
            raise RuleError(f"missing {sorted(missing)}")
        if extra:
            raise RuleError(f"unexpected {sorted(extra)}")
        return node

    # -- criteria --------------------------------------------------------------------

    def rule(self, node: Any) -> Rule:
        if isinstance(node, str):
            try:
                fixed = Verdict(node)
            except ValueError:
                raise RuleError(f"{node!r} is not pass, fail or unknown") from None
            if fixed is Verdict.PENDING:
                raise RuleError("'pending' is not a verdict a flow may give")
            return lambda _view: fixed
        if not isinstance(node, dict) or len(node) != 1:
            raise RuleError(f"a rule is one predicate name with its arguments, got {node!r}")
        ((name, args),) = node.items()
        builder = RULES.get(name)
        if builder is None:
            raise RuleError(f"unknown predicate {name!r}; known: {', '.join(sorted(RULES))}")
        return builder(self, args)

    # -- conditions ------------------------------------------------------------------

    def condition(self, node: Any) -> Condition:
        if not isinstance(node, dict):
            raise RuleError(f"a condition is a mapping, got {node!r}")
        if "all" in node or "any" in node:
            (name,) = node.keys()
            parts = node[name]
            if not isinstance(parts, list) or not parts:
                raise RuleError(f"'{name}' expects a non-empty list of conditions")
            subs = [self.condition(p) for p in parts]
            return _all_conditions(subs) if name == "all" else _any_conditions(subs)
        if "in" in node:
            args = self.args(node, {"fact", "in"})
            fact = self.fact(args["fact"])
            return _fact_in(fact, self.option_list(fact, args["in"]), negate=False)
        args = self.args(node, {"fact", "not_in"})
        fact = self.fact(args["fact"])
        return _fact_in(fact, self.option_list(fact, args["not_in"]), negate=True)


def _fact_in(fact: str, values: frozenset[str], *, negate: bool) -> Condition:
    def check(view: FactView) -> bool | None:
        status = view.status(fact)
        if status is Fact.PENDING:
            return None
        inside = status is Fact.ANSWERED and view.value(fact) in values
        return not inside if negate else inside

    return check


def _all_conditions(subs: list[Condition]) -> Condition:
    def check(view: FactView) -> bool | None:
        results = [s(view) for s in subs]
        if False in results:
            return False
        return None if None in results else True

    return check


def _any_conditions(subs: list[Condition]) -> Condition:
    def check(view: FactView) -> bool | None:
        results = [s(view) for s in subs]
        if True in results:
            return True
        return None if None in results else False

    return check


# -- the registry of criterion predicates ------------------------------------------------


def _choice(c: _Compiler, node: Any) -> Rule:
    """Option ids that pass and that fail; any other answer is unknown."""
    args = c.args(node, {"fact", "pass", "fail"})
    fact = c.fact(args["fact"], "choice")
    passing, failing = c.option_list(fact, args["pass"]), c.option_list(fact, args["fail"])

    def rule(view: FactView) -> Verdict:
        status = view.status(fact)
        if status is Fact.PENDING:
            return Verdict.PENDING
        value = view.value(fact)
        if value in passing:
            return Verdict.PASS
        return Verdict.FAIL if value in failing else Verdict.UNKNOWN

    return rule


def _measured(c: _Compiler, node: Any, keys: set[str]) -> tuple[str, dict[str, Decimal]]:
    args = c.args(node, {"fact", *keys})
    fact = c.fact(args["fact"], "measurement")
    return fact, {k: c.number(args[k], k) for k in keys}


def _compare(fact: str, passing: Span) -> Rule:
    """Pass when every value the answer allows is in ``passing``, fail when none is."""

    def rule(view: FactView) -> Verdict:
        if view.status(fact) is Fact.PENDING:
            return Verdict.PENDING
        return _verdict(view.span(fact), passing)

    return rule


def _verdict(span: Span | None, passing: Span) -> Verdict:
    if span is None:
        return Verdict.UNKNOWN
    if span.within(passing):
        return Verdict.PASS
    return Verdict.FAIL if span.apart(passing) else Verdict.UNKNOWN


def _between(c: _Compiler, node: Any) -> Rule:
    """A measurement from min to max, both ends included."""
    fact, n = _measured(c, node, {"min", "max"})
    return _compare(fact, Span(n["min"], n["max"]))


def _at_least(c: _Compiler, node: Any) -> Rule:
    """A measurement of at least ``value``."""
    fact, n = _measured(c, node, {"value"})
    return _compare(fact, Span(n["value"], None))


def _below(c: _Compiler, node: Any) -> Rule:
    """A measurement strictly below ``value``."""
    fact, n = _measured(c, node, {"value"})
    return _compare(fact, Span(None, n["value"], high_open=True))


def _none_yes(c: _Compiler, node: Any) -> Rule:
    """Fail if any fact is yes, pass if all are no (or not asked), else unknown."""
    facts = c.yes_facts(node)

    def rule(view: FactView) -> Verdict:
        values = [view.value(f) if view.status(f) is not Fact.PENDING else None for f in facts]
        if YES in values:
            return Verdict.FAIL
        if any(view.status(f) is Fact.PENDING for f in facts):
            return Verdict.PENDING
        return Verdict.UNKNOWN if UNKNOWN in values else Verdict.PASS

    return rule


def _any_yes(c: _Compiler, node: Any) -> Rule:
    """Pass if any fact is yes, fail if all are no (or not asked), else unknown."""
    facts = c.yes_facts(node)

    def rule(view: FactView) -> Verdict:
        values = [view.value(f) for f in facts]
        if YES in values:
            return Verdict.PASS
        if any(view.status(f) is Fact.PENDING for f in facts):
            return Verdict.PENDING
        return Verdict.UNKNOWN if UNKNOWN in values else Verdict.FAIL

    return rule


def _all(c: _Compiler, node: Any) -> Rule:
    """Every part must pass; any part failing fails; otherwise unknown."""
    if not isinstance(node, list) or not node:
        raise RuleError("'all' expects a non-empty list of rules")
    parts = [c.rule(part) for part in node]
    return lambda view: _combine_all([part(view) for part in parts])


def _by(c: _Compiler, node: Any) -> Rule:
    """Pick a rule by a choice fact's answer; ``else`` covers the rest and "not asked"."""
    args = c.args(node, {"fact", "cases"}, frozenset({"else"}))
    fact = c.fact(args["fact"], "choice")
    cases = args["cases"]
    if not isinstance(cases, dict) or not cases:
        raise RuleError("'cases' must map option ids to rules")
    c.option_list(fact, list(cases))
    compiled = {key: c.rule(value) for key, value in cases.items()}
    fallback = c.rule(args.get("else", "unknown"))

    def rule(view: FactView) -> Verdict:
        if view.status(fact) is Fact.PENDING:
            return Verdict.PENDING
        chosen = compiled.get(view.value(fact) or "", fallback)
        return chosen(view)

    return rule


def _excused(c: _Compiler, node: Any) -> Rule:
    """A failure of ``rule`` becomes unknown when ``fact`` is one of ``in`` (the team decides)."""
    args = c.args(node, {"rule", "fact", "in"})
    inner = c.rule(args["rule"])
    fact = c.fact(args["fact"], "choice")
    values = c.option_list(fact, args["in"])

    def rule(view: FactView) -> Verdict:
        verdict = inner(view)
        if verdict is not Verdict.FAIL:
            return verdict
        status = view.status(fact)
        if status is Fact.PENDING:
            return Verdict.PENDING
        return Verdict.UNKNOWN if view.value(fact) in values else Verdict.FAIL

    return rule


def _derived_between(c: _Compiler, node: Any) -> Rule:
    """A value the flow works out (``derived``) from min to max, both ends included."""
    args = c.args(node, {"value", "min", "max"})
    name = args["value"]
    if not isinstance(name, str) or name not in c.derived:
        raise RuleError(f"unknown derived value {name!r}")
    derived = c.derived[name]
    facts = tuple(c.fact(f, "measurement") for f in derived.facts)
    passing = Span(c.number(args["min"], "min"), c.number(args["max"], "max"))

    def rule(view: FactView) -> Verdict:
        if any(view.status(f) is Fact.PENDING for f in facts):
            return Verdict.PENDING
        return _verdict(derived.span(view), passing)

    return rule


def bmi_span(kg: Span, cm: Span) -> Span:
    """Return the BMIs a weight range and a height range allow (ends closed: rounded).

    BMI rises with the weight and falls with the height, so its lowest value comes
    from the lowest weight and the greatest height, and its highest from the reverse.
    """
    if kg.low is None or kg.low < 0 or cm.high is None or cm.high <= 0:
        low = None
    else:
        low = bmi(kg.low, cm.high)
    high = None if kg.high is None or cm.low is None or cm.low <= 0 else bmi(kg.high, cm.low)
    return Span(low, high)


RULES: dict[str, Callable[[_Compiler, Any], Rule]] = {
    "all": _all,
    "any_yes": _any_yes,
    "at_least": _at_least,
    "below": _below,
    "between": _between,
    "by": _by,
    "derived_between": _derived_between,
    "choice": _choice,
    "excused": _excused,
    "none_yes": _none_yes,
}


def compile_rule(
    node: Any, facts: Mapping[str, FactInfo], derived: Mapping[str, Derived] | None = None
) -> tuple[Rule, frozenset[str]]:
    """Compile a criterion's rule tree; return it with the facts it reads."""
    compiler = _Compiler(facts, derived)
    return compiler.rule(node), frozenset(compiler.used)


def compile_condition(node: Any, facts: Mapping[str, FactInfo]) -> tuple[Condition, frozenset[str]]:
    """Compile a ``when`` condition; return it with the facts it reads."""
    compiler = _Compiler(facts)
    return compiler.condition(node), frozenset(compiler.used)
