"""An independent reading of screening-spec.md, for checking the engine against generated profiles.

It is written straight from the spec's tables with plain Decimal arithmetic and shares no code
with ``bot.engine``: if the two disagree, one of them misreads the spec.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

D = Decimal
CRITERIA = [
    "diagnosis",
    "age",
    "islet_failure",
    "indication",
    "consent",
    "dka",
    "allergy",
    "bmi",
    "anemia",
    "infection",
    "thrombosis_or_organ_disease",
    "other_diabetes_form",
    "pregnancy",
    "mental_health_or_substance",
    "tumor",
    "autoimmune_or_blood",
]


def half_up(value: Decimal) -> Decimal:
    return value.quantize(D("0.1"), rounding=ROUND_HALF_UP)


def yes_no(values: list[str | None]) -> str:
    """Any yes: fail; all no (or not asked): pass; else unknown."""
    if "yes" in values:
        return "fail"
    if all(v in ("no", None) for v in values):
        return "pass"
    return "unknown"


def evaluate(f: dict[str, Any]) -> dict[str, str]:
    """Return each criterion's verdict for facts already in canonical units (None = not asked)."""
    r: dict[str, str] = {}
    r["diagnosis"] = {"yes": "pass", "no": "fail"}.get(f["diabetes_diagnosed"], "unknown")
    r["age"] = "pass" if 18 <= f["age"] <= 70 else "fail"
    parts = []
    parts.append("unknown" if f["hba1c"] is None else "pass" if f["hba1c"] >= D("7.0") else "fail")
    parts.append("unknown" if f["cpf"] is None else "pass" if f["cpf"] < D("0.1") else "fail")
    parts.append("unknown" if f["cp2"] is None else "pass" if f["cp2"] < D("0.2") else "fail")
    r["islet_failure"] = (
        "fail" if "fail" in parts else "pass" if all(p == "pass" for p in parts) else "unknown"
    )
    t = f["diabetes_type"]
    if t in ("type1", "type2"):
        trio = [
            f["frequent_hypoglycemia"],
            f["severe_hypoglycemia_12m"],
            f["diabetes_organ_complications"],
        ]
        r["indication"] = (
            "pass" if "yes" in trio else "fail" if all(v == "no" for v in trio) else "unknown"
        )
    elif t in ("gestational", "other"):
        r["indication"] = "fail"
    else:
        r["indication"] = "unknown"
    r["consent"] = {"yes": "pass", "no": "fail"}.get(f["willing_to_consent"], "unknown")
    r["dka"] = yes_no([f["dka_uncontrolled"]])
    r["allergy"] = yes_no([f["severe_allergies"]])
    if f["weight"] is None or f["height"] is None:
        r["bmi"] = "unknown"
    else:
        bmi = half_up(f["weight"] / ((f["height"] / 100) ** 2))
        r["bmi"] = "fail" if bmi < D("14.0") or bmi > D("35.0") else "pass"
    if f["hemoglobin"] is None:
        r["anemia"] = "unknown"
    else:
        limit = D("8.0") if f["sex"] == "male" else D("7.0")
        r["anemia"] = "fail" if f["hemoglobin"] < limit else "pass"
    r["infection"] = yes_no([f["hiv"], f["hepatitis"], f["uncontrolled_infection"]])
    first = yes_no([f["acute_pancreatitis_history"], f["thrombosis_history"]])
    organ = f["severe_organ_disease"]
    if organ == "yes":
        second = "unknown" if f["diabetes_organ_complications"] == "yes" else "fail"
    else:
        second = yes_no([organ])
    r["thrombosis_or_organ_disease"] = (
        "fail"
        if "fail" in (first, second)
        else "pass"
        if (first, second) == ("pass", "pass")
        else "unknown"
    )
    r["other_diabetes_form"] = {
        "gestational": "fail",
        "other": "fail",
        "type1": "pass",
        "type2": "pass",
    }.get(t, "unknown")
    if f["sex"] == "male":
        r["pregnancy"] = "pass"
    else:
        r["pregnancy"] = yes_no([f["pregnant"], f["pregnancy_planned"], f["breastfeeding"]])
    r["mental_health_or_substance"] = yes_no([f["mental_illness"], f["substance_abuse"]])
    tumor = f["tumor"]
    r["tumor"] = (
        ("unknown" if t == "pancreatectomy" else "fail") if tumor == "yes" else yes_no([tumor])
    )
    r["autoimmune_or_blood"] = yes_no([f["other_autoimmune"], f["blood_disorder"]])
    return r


def expected_line(pid: str, facts: dict[str, Any]) -> dict[str, Any]:
    """Return the replay line the spec expects when the flow runs to the end."""
    verdicts = evaluate(facts)
    failed = [c for c in CRITERIA if verdicts[c] == "fail"]
    unknown = [c for c in CRITERIA if verdicts[c] == "unknown"]
    outcome = "likely_ineligible" if failed else "needs_review" if unknown else "likely_eligible"
    return {"id": pid, "outcome": outcome, "failed": failed, "unknown": unknown}
