"""Write the everyday replay profiles of one language and their expected lines.

Usage, from the repository root: ``python tests/data/everyday/make.py zh-Hans zh-Hant ar``.

Every typed answer is a ``clear`` entry of ``tests/data/corpus/<lang>.yaml`` (or a tap by
option id); the expected line comes from ``tests/spec_reference.py`` alone, from the canonical
reading the corpus gives each answer. The output is deterministic (one seed per language).
"""

from __future__ import annotations

import json
import random
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from tests.spec_reference import evaluate, expected_line  # noqa: E402

D = Decimal
PROFILES = 36
TAGS = {
    "zh-Hans": ["zh-Hans", "zh-CN", "zh-hans", "zh"],
    "zh-Hant": ["zh-Hant", "zh-TW", "zh-HK"],
    "ar": ["ar", "ar-EG", "ar-SA", "ar-LB"],
}
KEY = {"c_peptide_fasting": "cpf", "c_peptide_2h": "cp2"}
MEASURES = ["age", "hba1c", "c_peptide_fasting", "c_peptide_2h", "height", "weight", "hemoglobin"]
TRIO = ["frequent_hypoglycemia", "severe_hypoglycemia_12m", "diabetes_organ_complications"]
EXCLUSIONS = [
    "dka_uncontrolled",
    "severe_allergies",
    "hiv",
    "hepatitis",
    "uncontrolled_infection",
    "acute_pancreatitis_history",
    "thrombosis_history",
    "severe_organ_disease",
    "mental_illness",
    "substance_abuse",
    "tumor",
    "other_autoimmune",
    "blood_disorder",
]
WOMEN = ["pregnant", "pregnancy_planned", "breastfeeding"]
# Which measured values keep a person in the study ("good") or rule them out ("bad").
GOOD = {
    "age": lambda v: 18 <= v <= 70,
    "hba1c": lambda v: v >= D("7.0"),
    "c_peptide_fasting": lambda v: v < D("0.1"),
    "c_peptide_2h": lambda v: v < D("0.2"),
    "height": lambda v: True,
    "weight": lambda v: True,
    "hemoglobin": lambda v: v >= D("8.0"),
}
BAD = {
    "age": lambda v: not 18 <= v <= 70,
    "hba1c": lambda v: v < D("7.0"),
    "c_peptide_fasting": lambda v: v >= D("0.1"),
    "c_peptide_2h": lambda v: v >= D("0.2"),
    "hemoglobin": lambda v: v < D("7.0"),
}


def value_of(q: str, read: str) -> Decimal | None:
    """Return a value standing for a reading, or None when a bound leaves the criterion open."""
    number = D(read.split()[-2])
    if not read.startswith(("<", ">")):
        return number
    bound = number
    if read.startswith("<") and q in ("c_peptide_fasting", "c_peptide_2h"):
        return bound / 2 if bound <= (D("0.1") if q == "c_peptide_fasting" else D("0.2")) else None
    if read.startswith(">") and q == "hba1c" and bound >= D("7.0"):
        return bound + 1
    return None


class Pools:
    """The clear corpus answers of one language, with how often each was used."""

    def __init__(self, lang: str, rng: random.Random) -> None:
        entries = yaml.safe_load((ROOT / f"tests/data/corpus/{lang}.yaml").read_text("utf-8"))
        self.rng = rng
        self.choice: dict[tuple[str, str], list[str]] = {}
        self.measure: dict[str, list[tuple[str, Decimal | None]]] = {}
        self.used: dict[str, int] = {}
        for e in entries["entries"]:
            if e["mode"] != "clear":
                continue
            if e["q"] in MEASURES:
                value = None if e["read"] == "unknown" else value_of(e["q"], e["read"])
                if e["read"] == "unknown" or value is not None:
                    self.measure.setdefault(e["q"], []).append((e["text"], value))
            else:
                self.choice.setdefault((e["q"], e["read"]), []).append(e["text"])

    def least_used(self, texts: list[str]) -> str:
        """Pick one of the least used texts, so that the profiles cover the corpus."""
        low = min(self.used.get(t, 0) for t in texts)
        text = self.rng.choice([t for t in texts if self.used.get(t, 0) == low])
        self.used[text] = self.used.get(text, 0) + 1
        return text

    def say(self, q: str, option: str) -> str:
        """Return a typed answer meaning ``option``, or sometimes the tap itself."""
        texts = self.choice.get((q, option), [])
        if not texts or self.rng.random() < 0.25:
            return option
        return self.least_used(texts)

    def measured(self, q: str, test: Any) -> tuple[str, Decimal | None]:
        """Return a typed measurement whose value passes ``test`` (None test: I don't know)."""
        if test is None:
            texts = [t for t, v in self.measure[q] if v is None]
            if not texts or self.rng.random() < 0.3:
                return "unknown", None
            return self.least_used(texts), None
        pairs = {t: v for t, v in self.measure[q] if v is not None and test(v)}
        text = self.least_used(sorted(pairs))
        return text, pairs[text]


def plan(rng: random.Random, target: str, index: int) -> dict[str, Any]:
    """Return the intended choices and value tests of one person aiming at ``target``."""
    sex = "female" if index % 2 == 0 else "male"
    if target == "likely_eligible":
        dtype = rng.choice(["type1", "type1", "type2"])
    elif target == "needs_review":
        dtype = rng.choice(["type1", "type2", "pancreatectomy", "unknown"])
    else:
        dtype = rng.choice(["type1", "type2", "gestational", "other", "type1"])
    p: dict[str, Any] = {"sex": sex, "diabetes_type": dtype, "diabetes_diagnosed": "yes"}
    p["willing_to_consent"] = "yes"
    for fact in EXCLUSIONS + WOMEN:
        p[fact] = "no"
    trio = ["no", "no", "no"]
    trio[rng.randrange(3)] = "yes"
    for fact, option in zip(TRIO, trio, strict=True):
        p[fact] = option if rng.random() < 0.8 else "yes"
    tests: dict[str, Any] = {q: GOOD[q] for q in MEASURES}
    if target == "needs_review":
        for fact in rng.sample(EXCLUSIONS + TRIO + MEASURES[1:] + ["willing_to_consent"], 2):
            if fact in MEASURES:
                tests[fact] = None
            else:
                p[fact] = "unknown"
        if rng.random() < 0.15:
            p["diabetes_diagnosed"] = "unknown"
    elif target == "likely_ineligible":
        women = WOMEN if sex == "female" else []
        causes = EXCLUSIONS + women + list(BAD) + ["willing_to_consent"]
        for fact in rng.sample(causes, rng.choice([1, 2])):
            if fact in BAD:
                tests[fact] = BAD[fact]
            else:
                p[fact] = "no" if fact == "willing_to_consent" else "yes"
    p["tests"] = tests
    return p


def person(
    pools: Pools, rng: random.Random, target: str, index: int
) -> tuple[dict[str, str], dict[str, Any]]:
    """Return the answers and the canonical facts of one profile."""
    p = plan(rng, target, index)
    answers: dict[str, str] = {}
    facts: dict[str, Any] = {}
    asked = ["diabetes_diagnosed", "sex", "diabetes_type", "willing_to_consent", *EXCLUSIONS]
    if p["diabetes_type"] in ("type1", "type2"):
        asked += TRIO
    else:
        facts.update(dict.fromkeys(TRIO))
    if p["sex"] == "female":
        asked += WOMEN
    else:
        facts.update(dict.fromkeys(WOMEN))
    for fact in asked:
        answers[fact] = pools.say(fact, p[fact])
        facts[fact] = p[fact]
    for q in MEASURES:
        answers[q], facts[KEY.get(q, q)] = pools.measured(q, p["tests"][q])
    return answers, facts


def write(lang: str) -> None:
    """Write the profiles of one language and its expected.jsonl."""
    rng = random.Random(f"everyday-{lang}")
    pools = Pools(lang, rng)
    out = ROOT / "tests/data/everyday" / lang
    out.mkdir(parents=True, exist_ok=True)
    targets = ["likely_eligible", "needs_review", "likely_ineligible"]
    lines = []
    for index in range(PROFILES):
        target = targets[index % 3]
        while True:
            answers, facts = person(pools, rng, target, index)
            if facts["weight"] is not None and facts["height"] is not None:
                verdict = evaluate(facts)["bmi"]
                if verdict == "fail" and target != "likely_ineligible":
                    continue
            line = expected_line(f"everyday-{lang}-{index + 1:02d}", facts)
            if line["outcome"] == target:
                break
        ordered = {k: answers[k] for k in sorted(answers, key=ORDER.index)}
        profile = {"id": line["id"], "language": rng.choice(TAGS[lang]), "answers": ordered}
        path = out / f"{line['id']}.json"
        path.write_text(json.dumps(profile, ensure_ascii=False, indent=1) + "\n", "utf-8")
        lines.append(json.dumps(line, ensure_ascii=False))
    (out / "expected.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


FLOW = yaml.safe_load((ROOT / "flows/nct06751199.yaml").read_text("utf-8"))
ORDER = [q["id"] for q in FLOW["questions"]]

if __name__ == "__main__":
    for language in sys.argv[1:] or list(TAGS):
        write(language)
