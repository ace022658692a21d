"""Each criterion at its boundaries, through the real engine and the real flow."""

from __future__ import annotations

import pytest

from bot.engine.engine import Engine
from tests.conftest import outcome_of, with_answers


def verdict_of(engine: Engine, criterion: str, **answers: str) -> str:
    """Return pass / fail / unknown for one criterion after a whole conversation."""
    outcome = outcome_of(engine, with_answers(**answers))
    if criterion in outcome["failed"]:  # type: ignore[operator]
        return "fail"
    if criterion in outcome["unknown"]:  # type: ignore[operator]
        return "unknown"
    return "pass"


def test_the_reference_profile_is_likely_eligible(engine: Engine) -> None:
    outcome = outcome_of(engine, with_answers())
    assert outcome["outcome"] == "likely_eligible"
    assert outcome["failed"] == [] and outcome["unknown"] == []
    assert outcome["protocol"] == engine.flow.protocol


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        ("17", "fail"),
        ("18", "pass"),
        ("70", "pass"),
        ("71", "fail"),
        ("17.9", "fail"),
        ("70.9", "pass"),
    ],
)
def test_age_limits_include_both_ends(engine: Engine, age: str, expected: str) -> None:
    assert verdict_of(engine, "age", age=age) == expected


@pytest.mark.parametrize(
    ("hba1c", "expected"),
    [
        ("6.9%", "fail"),
        ("7.0%", "pass"),
        ("7%", "pass"),
        ("6.99%", "fail"),
        ("52 mmol/mol", "fail"),  # 6.908 -> 6.9
        ("53 mmol/mol", "pass"),  # 6.999 -> 7.0
        ("unknown", "unknown"),
    ],
)
def test_hba1c_threshold(engine: Engine, hba1c: str, expected: str) -> None:
    assert verdict_of(engine, "islet_failure", hba1c=hba1c) == expected


@pytest.mark.parametrize(
    ("fasting", "expected"),
    [
        ("0.099 nmol/L", "pass"),
        ("0.1 nmol/L", "fail"),
        ("99 pmol/L", "pass"),
        ("100 pmol/L", "fail"),
        ("0.30 ng/mL", "pass"),  # 0.0993 nmol/L
        ("0.31 ng/mL", "fail"),  # 0.10261 nmol/L
        ("0.30 µg/L", "pass"),
        ("0.31 µg/L", "fail"),
        ("<0.01 nmol/L", "pass"),
        ("unknown", "unknown"),
    ],
)
def test_fasting_c_peptide_threshold_in_each_unit(
    engine: Engine, fasting: str, expected: str
) -> None:
    assert verdict_of(engine, "islet_failure", c_peptide_fasting=fasting) == expected


@pytest.mark.parametrize(
    ("after_meal", "expected"),
    [
        ("0.199 nmol/L", "pass"),
        ("0.2 nmol/L", "fail"),
        ("199 pmol/L", "pass"),
        ("200 pmol/L", "fail"),
        ("0.60 ng/mL", "pass"),  # 0.1986
        ("0.61 ng/mL", "fail"),  # 0.20191
        ("0.60 µg/L", "pass"),
        ("unknown", "unknown"),
    ],
)
def test_two_hour_c_peptide_threshold_in_each_unit(
    engine: Engine, after_meal: str, expected: str
) -> None:
    assert verdict_of(engine, "islet_failure", c_peptide_2h=after_meal) == expected


@pytest.mark.parametrize(
    ("height", "weight", "expected"),
    [
        ("200 cm", "55.8 kg", "pass"),  # 13.95 rounds half up to 14.0
        ("200 cm", "55.6 kg", "fail"),  # 13.9
        ("200 cm", "56 kg", "pass"),  # 14.0
        ("100 cm", "35 kg", "pass"),  # 35.0
        ("100 cm", "35.1 kg", "fail"),  # 35.1
        ("100 cm", "35.05 kg", "fail"),  # 35.05 rounds half up to 35.1
        ("100 cm", "35.04 kg", "pass"),  # 35.04 -> 35.0
        ("unknown", "60 kg", "unknown"),
        ("165 cm", "unknown", "unknown"),
    ],
)
def test_bmi_limits_with_half_up_rounding(
    engine: Engine, height: str, weight: str, expected: str
) -> None:
    assert verdict_of(engine, "bmi", height=height, weight=weight) == expected


@pytest.mark.parametrize(
    ("sex", "hemoglobin", "expected"),
    [
        ("male", "7.9 g/dL", "fail"),
        ("male", "8.0 g/dL", "pass"),
        ("male", "80 g/L", "pass"),
        ("male", "79 g/L", "fail"),
        ("female", "6.9 g/dL", "fail"),
        ("female", "7.0 g/dL", "pass"),
        ("female", "7.9 g/dL", "pass"),
        ("male", "4.9 mmol/L", "fail"),  # 7.8939 g/dL
        ("male", "5 mmol/L", "pass"),  # 8.055 g/dL
        ("female", "unknown", "unknown"),
    ],
)
def test_hemoglobin_limit_depends_on_sex(
    engine: Engine, sex: str, hemoglobin: str, expected: str
) -> None:
    assert verdict_of(engine, "anemia", sex=sex, hemoglobin=hemoglobin) == expected


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"diabetes_type": "type2"}, "pass"),
        ({"frequent_hypoglycemia": "no"}, "fail"),  # all three no
        ({"frequent_hypoglycemia": "no", "severe_hypoglycemia_12m": "yes"}, "pass"),
        ({"frequent_hypoglycemia": "no", "diabetes_organ_complications": "yes"}, "pass"),
        ({"frequent_hypoglycemia": "unknown"}, "unknown"),
        ({"diabetes_type": "pancreatectomy"}, "unknown"),
        ({"diabetes_type": "gestational"}, "fail"),
        ({"diabetes_type": "other"}, "fail"),
        ({"diabetes_type": "unknown"}, "unknown"),
    ],
)
def test_indication(engine: Engine, answers: dict[str, str], expected: str) -> None:
    assert verdict_of(engine, "indication", **answers) == expected


def test_organ_disease_is_unknown_when_complications_are_the_indication(engine: Engine) -> None:
    assert verdict_of(engine, "thrombosis_or_organ_disease", severe_organ_disease="yes") == "fail"
    assert (
        verdict_of(
            engine,
            "thrombosis_or_organ_disease",
            severe_organ_disease="yes",
            diabetes_organ_complications="yes",
        )
        == "unknown"
    )
    assert (
        verdict_of(
            engine,
            "thrombosis_or_organ_disease",
            severe_organ_disease="yes",
            diabetes_organ_complications="yes",
            thrombosis_history="yes",
        )
        == "fail"
    )


def test_tumor_is_unknown_after_pancreatectomy(engine: Engine) -> None:
    assert verdict_of(engine, "tumor", tumor="yes") == "fail"
    assert verdict_of(engine, "tumor", tumor="yes", diabetes_type="pancreatectomy") == "unknown"
    assert verdict_of(engine, "tumor", tumor="unknown") == "unknown"


def test_pregnancy_is_not_asked_of_men_and_passes(engine: Engine) -> None:
    answers = with_answers(sex="male", pregnant="yes")
    outcome = outcome_of(engine, answers)
    assert outcome["outcome"] == "likely_eligible"


@pytest.mark.parametrize("fact", ["pregnant", "pregnancy_planned", "breastfeeding"])
def test_pregnancy_facts_fail_for_women(engine: Engine, fact: str) -> None:
    assert verdict_of(engine, "pregnancy", **{fact: "yes"}) == "fail"
    assert verdict_of(engine, "pregnancy", **{fact: "unknown"}) == "unknown"


@pytest.mark.parametrize(
    ("criterion", "facts"),
    [
        ("dka", ["dka_uncontrolled"]),
        ("allergy", ["severe_allergies"]),
        ("infection", ["hiv", "hepatitis", "uncontrolled_infection"]),
        ("thrombosis_or_organ_disease", ["acute_pancreatitis_history", "thrombosis_history"]),
        ("mental_health_or_substance", ["mental_illness", "substance_abuse"]),
        ("autoimmune_or_blood", ["other_autoimmune", "blood_disorder"]),
        ("consent", []),
        ("diagnosis", []),
    ],
)
def test_yes_no_unknown_criteria(engine: Engine, criterion: str, facts: list[str]) -> None:
    if criterion == "consent":
        assert verdict_of(engine, criterion, willing_to_consent="no") == "fail"
        assert verdict_of(engine, criterion, willing_to_consent="unknown") == "unknown"
        return
    if criterion == "diagnosis":
        assert verdict_of(engine, criterion, diabetes_diagnosed="no") == "fail"
        assert verdict_of(engine, criterion, diabetes_diagnosed="unknown") == "unknown"
        return
    for fact in facts:
        assert verdict_of(engine, criterion, **{fact: "yes"}) == "fail"
        assert verdict_of(engine, criterion, **{fact: "unknown"}) == "unknown"


def test_unknown_never_fails_and_gives_needs_review(engine: Engine) -> None:
    outcome = outcome_of(engine, with_answers(hba1c="unknown", hemoglobin="unknown"))
    assert outcome["outcome"] == "needs_review"
    assert outcome["unknown"] == ["islet_failure", "anemia"]
    assert outcome["failed"] == []
