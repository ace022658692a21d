"""Values written as a bound: ranges in every measurement predicate, as the spec says."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.engine.engine import Engine
from bot.engine.record import Answer
from bot.engine.rules import Verdict, bmi_span
from bot.engine.spans import Span, bounded_value, split_value
from tests.conftest import ELIGIBLE_EN, Patient


@pytest.fixture(scope="module")
def eligible(engine: Engine) -> dict[str, Answer]:
    """Return the committed answers of the eligible reference profile."""
    patient = Patient(engine)
    patient.run(ELIGIBLE_EN)
    assert patient.conv.outcome is not None and patient.conv.outcome["outcome"] == (
        "likely_eligible"
    )
    return dict(patient.conv.answers)


def verdict(engine: Engine, eligible: dict[str, Answer], criterion: str, **values: str) -> str:
    """Return one criterion's verdict with some stored values changed."""
    answers = {**eligible, **{fact: Answer(v) for fact, v in values.items()}}
    found: Verdict = engine.flow.evaluate(engine.flow.view(answers))[criterion]
    return found.value


# -- the spec's own examples --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fasting", "expected"),
    [("<0.1", "pass"), ("<0.3", "unknown"), ("<0.01", "pass"), ("≤0.1", "unknown")],
)
def test_fasting_c_peptide_bounds(
    engine: Engine, eligible: dict[str, Answer], fasting: str, expected: str
) -> None:
    assert verdict(engine, eligible, "islet_failure", c_peptide_fasting=fasting) == expected


@pytest.mark.parametrize(
    ("hba1c", "expected"),
    [(">7", "pass"), ("≥7", "pass"), (">6.5", "unknown"), ("<6.5", "fail"), ("<7", "fail")],
)
def test_hba1c_bounds(
    engine: Engine, eligible: dict[str, Answer], hba1c: str, expected: str
) -> None:
    assert verdict(engine, eligible, "islet_failure", hba1c=hba1c) == expected


# -- every predicate that reads a measurement ---------------------------------------------


@pytest.mark.parametrize(
    ("age", "expected"),
    [(">70", "fail"), ("≥70", "unknown"), ("<18", "fail"), ("≤18", "unknown"), (">18", "unknown")],
)
def test_between_on_a_bound(
    engine: Engine, eligible: dict[str, Answer], age: str, expected: str
) -> None:
    assert verdict(engine, eligible, "age", age=age) == expected


@pytest.mark.parametrize(
    ("hemoglobin", "expected"),
    [(">8", "pass"), ("≥7", "pass"), ("<7", "fail"), ("≤7", "unknown"), (">6", "unknown")],
)
def test_at_least_on_a_bound(
    engine: Engine, eligible: dict[str, Answer], hemoglobin: str, expected: str
) -> None:
    # the reference profile is female: anemia fails below 7.0 g/dL
    assert verdict(engine, eligible, "anemia", hemoglobin=hemoglobin) == expected


@pytest.mark.parametrize(
    ("two_hour", "expected"),
    [
        ("<0.2", "pass"),
        ("≤0.2", "unknown"),
        (">0.2", "fail"),
        ("≥0.2", "fail"),
        ("<0.5", "unknown"),
    ],
)
def test_below_on_a_bound(
    engine: Engine, eligible: dict[str, Answer], two_hour: str, expected: str
) -> None:
    assert verdict(engine, eligible, "islet_failure", c_peptide_2h=two_hour) == expected


@pytest.mark.parametrize(
    ("weight", "height", "expected"),
    [
        ("<60", "165", "unknown"),  # could be 10 kg
        (">60", "165", "unknown"),  # could be 200 kg
        (">110", "165", "fail"),  # BMI above 40
        ("<30", "170", "fail"),  # BMI below 10.4
        ("60", ">165", "unknown"),
        ("60", "<165", "unknown"),
        ("60", ">150", "unknown"),
    ],
)
def test_bmi_on_bounds(
    engine: Engine, eligible: dict[str, Answer], weight: str, height: str, expected: str
) -> None:
    got = verdict(engine, eligible, "bmi", weight=weight, height=height)
    assert got == expected


def test_exact_values_keep_their_verdicts(engine: Engine, eligible: dict[str, Answer]) -> None:
    assert verdict(engine, eligible, "islet_failure", c_peptide_fasting="0.099") == "pass"
    assert verdict(engine, eligible, "islet_failure", c_peptide_fasting="0.1") == "fail"
    assert verdict(engine, eligible, "bmi", weight="95.3", height="165") == "pass"  # 35.0
    assert verdict(engine, eligible, "bmi", weight="95.5", height="165") == "fail"  # 35.1


# -- ranges themselves --------------------------------------------------------------------


def test_stored_form_round_trips() -> None:
    for bound in ("lt", "le", "gt", "ge", None):
        stored = bounded_value(Decimal("0.10"), bound)
        assert split_value(stored) == (bound, Decimal("0.10"))
    assert bounded_value(Decimal("0.1"), "lt") == "<0.1"
    assert bounded_value(Decimal("7"), "ge") == "≥7"
    assert split_value("unknown") is None and split_value("yes") is None
    assert split_value("<") is None and split_value("NaN") is None


def test_open_and_closed_ends() -> None:
    below = Span(None, Decimal("0.1"), high_open=True)
    assert Span.of(Decimal("0.1"), "lt").within(below)
    assert not Span.of(Decimal("0.1"), "le").within(below)
    assert Span.of(Decimal("0.1"), "ge").apart(below)
    assert Span.of(Decimal("0.1"), "gt").apart(below)
    assert not Span.of(Decimal("0.09"), "gt").apart(below)
    assert Span.point(Decimal("0.1")).apart(below)
    closed = Span(Decimal(18), Decimal(70))
    assert Span.of(Decimal(70), "gt").apart(closed)
    assert not Span.of(Decimal(70), "ge").apart(closed)
    assert not Span.of(Decimal(70), "ge").within(closed)


def test_bmi_span_runs_from_the_lightest_tallest_to_the_heaviest_shortest() -> None:
    span = bmi_span(Span(Decimal(50), Decimal(60)), Span(Decimal(150), Decimal(170)))
    assert span == Span(Decimal("17.3"), Decimal("26.7"))
    assert bmi_span(Span.of(Decimal(60), "lt"), Span.point(Decimal(165))).low is None
    assert bmi_span(Span.point(Decimal(60)), Span.of(Decimal(150), "gt")).low is None
