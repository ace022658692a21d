"""Write the everyday replay profiles and expected.jsonl of tests/data/everyday/{en,es,ru}/.

Every typed answer is a `clear` answer of tests/data/corpus/<lang>.yaml (its reading gives the
canonical fact), some choice answers are taps by option id, and the expected line comes from
tests/spec_reference.py alone. Run from the repository root:
    python tests/data/everyday/make_en_es_ru.py [LANG ...]      (default: en es ru)
Each language draws from its own seed, so regenerating one language leaves the others as they are.
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

from tests.spec_reference import expected_line  # noqa: E402

D = Decimal
HERE = Path(__file__).resolve().parent
TAGS = {
    "en": ["en", "en-US"],
    "es": ["es", "es-MX"],
    "ru": ["ru", "ru-RU"],
}
TYPED = ("type1", "type2")
HYPO = ("frequent_hypoglycemia", "severe_hypoglycemia_12m", "diabetes_organ_complications")
EXCLUSIONS = (
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
)
PREGNANCY = ("pregnant", "pregnancy_planned", "breastfeeding")
MEASURES = {
    "age": "age",
    "height": "height",
    "weight": "weight",
    "hba1c": "hba1c",
    "c_peptide_fasting": "cpf",
    "c_peptide_2h": "cp2",
    "hemoglobin": "hemoglobin",
}
# (target outcome, diabetes type or special case); 34 profiles per language.
SLOTS = (
    [("likely_eligible", "type1")] * 6
    + [("likely_eligible", "type2")] * 4
    + [("needs_review", "type1")] * 3
    + [("needs_review", "type2")] * 3
    + [("needs_review", "pancreatectomy")] * 2
    + [("needs_review", "unknown"), ("needs_review", "diagnosis_unknown")]
    + [("likely_ineligible", "type1")] * 3
    + [("likely_ineligible", "type2")] * 3
    + [("likely_ineligible", "gestational")] * 2
    + [("likely_ineligible", "other")] * 2
    + [("likely_ineligible", "pancreatectomy"), ("likely_ineligible", "unknown")]
    + [("likely_ineligible", "diagnosis_no")]
)


def surrogate(q: str, read: str) -> Decimal | None:
    """Return a value with the same verdict as a bound, or None when the bound decides nothing."""
    sign, number = read.split()[0], D(read.split()[1])
    if q in ("c_peptide_fasting", "c_peptide_2h") and sign == "<":
        limit = D("0.1") if q == "c_peptide_fasting" else D("0.2")
        return number - D("0.0001") if number <= limit else None
    if q == "hba1c" and sign == ">":
        return number + D("0.1") if number >= D("7.0") else None
    return None


def pools(lang: str) -> tuple[dict[tuple[str, str], list[str]], dict[str, list[tuple[str, Any]]]]:
    """Group the clear corpus answers: choices by (fact, option), measurements by fact."""
    data = yaml.safe_load((ROOT / "tests/data/corpus" / f"{lang}.yaml").read_text("utf-8"))
    choices: dict[tuple[str, str], list[str]] = {}
    values: dict[str, list[tuple[str, Any]]] = {}
    for e in data["entries"]:
        if e["mode"] != "clear":
            continue
        q, text, read = e["q"], e["text"], e["read"]
        if q not in MEASURES:
            choices.setdefault((q, read), []).append(text)
            continue
        if read == "unknown":
            value: Any = None
        elif read[0] in "<>":
            value = surrogate(q, read)
            if value is None:
                continue
        else:
            value = D(read.split()[0])
        key = "c_peptide" if q.startswith("c_peptide") else q
        values.setdefault(key, []).append((text, value))
    return choices, values


class NoFit(Exception):
    """No clear corpus answer fits what this person needs: draw another person."""


class Person:
    """One patient's canonical facts and the answers they type or tap."""

    def __init__(self, rng: random.Random, lang: str) -> None:
        self.rng = rng
        self.choices, self.values = pools(lang)
        self.facts: dict[str, Any] = {}
        self.answers: dict[str, str] = {}

    def choose(self, q: str, option: str) -> None:
        """Answer a choice question: a tap now and then, else an everyday text."""
        texts = self.choices.get((q, option), [])
        tap = not texts or self.rng.random() < 0.25
        self.answers[q] = option if tap else self.rng.choice(texts)
        self.facts[q] = option

    def measure(self, q: str, test: Any) -> None:
        """Answer a measurement with an everyday text whose value passes test (None: unknown)."""
        key = "c_peptide" if q.startswith("c_peptide") else q
        fitting = [(t, v) for t, v in self.values[key] if test(v)]
        if not fitting and test(None):
            self.answers[q], self.facts[MEASURES[q]] = "unknown", None
            return
        if not fitting:
            raise NoFit(q)
        text, value = self.rng.choice(fitting)
        self.answers[q], self.facts[MEASURES[q]] = text, value

    def unask(self, *qs: str) -> None:
        """Record facts the flow never asks this person."""
        for q in qs:
            self.facts[q] = None
            self.answers.pop(q, None)


def passing(person: Person, kind: str, sex: str) -> None:
    """Give the person answers that pass every criterion (for their kind of diabetes)."""
    rng = person.rng
    person.choose("diabetes_diagnosed", "yes")
    person.measure("age", lambda v: v is not None and 18 <= v <= 70)
    person.choose("sex", sex)
    person.choose("diabetes_type", kind)
    if kind in TYPED:
        trio = [rng.choice(["yes", "no", "no"]) for _ in HYPO]
        trio[rng.randrange(3)] = "yes"
        for q, v in zip(HYPO, trio, strict=True):
            person.choose(q, v)
    else:
        person.unask(*HYPO)
    person.measure("hba1c", lambda v: v is not None and v >= D("7.0"))
    person.measure("c_peptide_fasting", lambda v: v is not None and v < D("0.1"))
    person.measure("c_peptide_2h", lambda v: v is not None and v < D("0.2"))
    person.measure("height", lambda v: v is not None)
    cm = person.facts["height"]
    person.measure("weight", lambda v: v is not None and 14 <= v / (cm / 100) ** 2 <= 35)
    limit = D("8.0") if sex == "male" else D("7.0")
    person.measure("hemoglobin", lambda v: v is not None and v >= limit)
    for q in EXCLUSIONS:
        person.choose(q, "no")
    for q in PREGNANCY:
        if sex == "female":
            person.choose(q, "no")
        else:
            person.unask(q)
    person.choose("willing_to_consent", "yes")


def doubt(person: Person, kind: str) -> None:
    """Leave one or two things unknown."""
    rng = person.rng
    sex = person.facts["sex"]
    moves = ["exclusion", "measure", "consent"] + (["pregnancy"] if sex == "female" else [])
    if kind in TYPED:
        moves += ["indication", "organ_excused"]
    for move in rng.sample(moves, rng.choice([1, 1, 2])):
        if move == "exclusion":
            person.choose(rng.choice(EXCLUSIONS), "unknown")
        elif move == "measure":
            q = rng.choice(["hba1c", "c_peptide_fasting", "c_peptide_2h", "weight", "hemoglobin"])
            person.measure(q, lambda v: v is None)
        elif move == "consent":
            person.choose("willing_to_consent", "unknown")
        elif move == "pregnancy":
            person.choose(rng.choice(PREGNANCY), "unknown")
        elif move == "indication":
            trio = ["no", "no", "no"]
            trio[rng.randrange(3)] = "unknown"
            for q, v in zip(HYPO, trio, strict=True):
                person.choose(q, v)
        else:
            person.choose("diabetes_organ_complications", "yes")
            person.choose("severe_organ_disease", "yes")


def failing(person: Person, kind: str) -> None:
    """Make one thing fail the person's screening."""
    rng = person.rng
    sex = person.facts["sex"]
    moves = ["age", "hba1c", "cpf", "cp2", "bmi", "anemia", "exclusion", "consent"]
    moves += ["pregnancy"] if sex == "female" else []
    moves += ["indication"] if kind in TYPED else []
    move = rng.choice(moves)
    if move == "age":
        person.measure("age", lambda v: v is not None and not 18 <= v <= 70)
    elif move == "hba1c":
        person.measure("hba1c", lambda v: v is not None and v < D("7.0"))
    elif move == "cpf":
        person.measure("c_peptide_fasting", lambda v: v is not None and v >= D("0.1"))
    elif move == "cp2":
        person.measure("c_peptide_2h", lambda v: v is not None and v >= D("0.2"))
    elif move == "bmi":
        cm = person.facts["height"]
        person.measure("weight", lambda v: v is not None and v / (cm / 100) ** 2 > 35)
    elif move == "anemia":
        limit = D("8.0") if sex == "male" else D("7.0")
        person.measure("hemoglobin", lambda v: v is not None and v < limit)
    elif move == "exclusion":
        person.choose(rng.choice(EXCLUSIONS), "yes")
    elif move == "consent":
        person.choose("willing_to_consent", "no")
    elif move == "pregnancy":
        person.choose(rng.choice(PREGNANCY), "yes")
    else:
        for q in HYPO:
            person.choose(q, "no")


def build(rng: random.Random, lang: str, target: str, case: str) -> Person:
    """Return a person whose expected outcome is target."""
    while True:
        person = Person(rng, lang)
        try:
            fill(person, case, target)
        except NoFit:
            continue
        if expected_line("x", person.facts)["outcome"] == target:
            return person


def fill(person: Person, case: str, target: str) -> None:
    """Answer every question for a person of this case, aimed at target."""
    rng = person.rng
    kind = rng.choice(TYPED) if case.startswith("diagnosis") else case
    sex = "female" if kind == "gestational" else rng.choice(["female", "male"])
    passing(person, kind, sex)
    if case == "diagnosis_unknown":
        person.choose("diabetes_diagnosed", "unknown")
    if case == "diagnosis_no":
        person.choose("diabetes_diagnosed", "no")
        person.unask("diabetes_type", *HYPO)
    elif target == "needs_review" and kind in TYPED and case != "diagnosis_unknown":
        doubt(person, kind)
    elif target == "likely_ineligible" and kind in (*TYPED, "pancreatectomy", "unknown"):
        failing(person, kind)


def main(langs: list[str]) -> None:
    """Write the profiles and expected.jsonl of each language named."""
    for lang in langs:
        tags = TAGS[lang]
        rng = random.Random(f"everyday-{lang}")
        folder = HERE / lang
        folder.mkdir(exist_ok=True)
        lines = []
        for n, (target, case) in enumerate(SLOTS, 1):
            person = build(rng, lang, target, case)
            pid = f"everyday-{lang}-{n:02d}"
            profile = {"id": pid, "language": rng.choice(tags), "answers": person.answers}
            text = json.dumps(profile, ensure_ascii=False, indent=1) + "\n"
            (folder / f"{pid}.json").write_text(text, "utf-8")
            lines.append(json.dumps(expected_line(pid, person.facts), ensure_ascii=False))
        (folder / "expected.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__":
    main(sys.argv[1:] or list(TAGS))
