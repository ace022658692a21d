"""Tests for bot.engine.answers: typed measurements, choices, "I don't know", BMI."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from bot.engine import answers as answers_module
from bot.engine.answers import (
    BareRule,
    Measured,
    MeasureSpec,
    bare_rule,
    bmi,
    canonical_unit,
    convert,
    is_unknown,
    match_choice,
    parse_measurement,
    unit_label,
    validate_spec,
)
from bot.engine.lexicon import load_lexicon
from bot.engine.units import load_units
from tests.answer_specs import make_specs

D = Decimal
LANGS = ("en", "zh-Hans", "zh-Hant", "es", "ru", "ar")


@pytest.fixture(scope="module")
def specs() -> dict[str, MeasureSpec]:
    """The spec table's measurement questions, keyed by quantity."""
    return make_specs()


def grouped(cases: list[tuple[Any, ...]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Cases grouped by their first field (one test item per quantity or language)."""
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for first, *rest in cases:
        groups.setdefault(first, []).append(tuple(rest))
    return list(groups.items())


def case_id(value: object) -> str:
    """Test ids for grouped cases: the group's name, then how many cases it holds."""
    if isinstance(value, str):
        return value
    return f"{len(value)}-cases" if isinstance(value, list) else repr(value)


def read(specs: dict[str, MeasureSpec], quantity: str, text: str, lang: str = "en") -> Measured:
    return parse_measurement(text, specs[quantity], lang)


def check(
    got: Measured,
    status: str,
    value: str | None = None,
    unit: str | None = None,
    number: str | None = None,
    note: str = "",
) -> None:
    assert got.status == status, (note, got)
    if value is not None:
        assert got.value == D(value), (note, got)
    if unit is not None:
        assert got.unit == unit, (note, got)
    if number is not None:
        assert got.number == D(number), (note, got)


# ---------------------------------------------------------------------------
# Every measurement answer in the study team's example profiles
# (copied from shared/trial/examples/example-*.json; language of the profile first)

EXAMPLE_MEASUREMENTS = {
    "example-01": (
        "ar",
        [
            ("age", "41", "41", "years"),
            ("hba1c", "79mmol/mol", "9.4", "mmol_mol"),
            ("c_peptide", "٠٫٠٧ nmol/L", "0.07", "nmol_l"),
            ("c_peptide", "0.24 µg/L", "0.07944", "ug_l"),
            ("height", "١٥٥cm", "155", "cm"),
            ("weight", "68.5kg", "68.5", "kg"),
            ("hemoglobin", "١٤٦", "14.6", "g_l"),
        ],
    ),
    "example-02": (
        "ru",
        [
            ("age", "41", "41", "years"),
            ("hba1c", "86 mmol/mol", "10.0", "mmol_mol"),
            ("c_peptide", "0,02 nmol/L", "0.02", "nmol_l"),
            ("c_peptide", "60pmol/L", "0.06", "pmol_l"),
            ("height", "182", "182", "cm"),
            ("weight", "94,4 kg", "94.4", "kg"),
            ("hemoglobin", "8,8 mmol/L", "14.1768", "mmol_l"),
        ],
    ),
    "example-03": (
        "en",
        [
            ("age", "17 years", "17", "years"),
            ("hba1c", "10.2%", "10.2", "percent"),
            ("c_peptide", "0.09 µg/L", "0.02979", "ug_l"),
            ("height", "5 ft 9 in", "175.26", "in"),
            ("weight", "73 kg", "73", "kg"),
            ("hemoglobin", "12", "12", "g_dl"),
        ],
    ),
    "example-04": (
        "zh-Hans",
        [
            ("age", "３０", "30", "years"),
            ("hba1c", "６０mmol/mol", "7.6", "mmol_mol"),
            ("c_peptide", "0.09 ng/mL", "0.02979", "ng_ml"),
            ("c_peptide", "0.24 ng/mL", "0.07944", "ng_ml"),
            ("height", "171 cm", "171", "cm"),
            ("weight", "62.1公斤", "62.1", "kg"),
            ("hemoglobin", "12.2", "12.2", "g_dl"),
        ],
    ),
    "example-05": (
        "ru",
        [
            ("age", "49 лет", "49", "years"),
            ("c_peptide", "0,24 ng/mL", "0.07944", "ng_ml"),
            ("c_peptide", "0,18 ng/mL", "0.05958", "ng_ml"),
            ("height", "1,64 m", "164", "m"),
            ("weight", "79,1 kg", "79.1", "kg"),
            ("hemoglobin", "137 г/л", "13.7", "g_l"),
        ],
    ),
    "example-06": (
        "ar",
        [
            ("age", "71", "71", "years"),
            ("hba1c", "٨٫٣", "8.3", "percent"),
            ("c_peptide", "30pmol/L", "0.03", "pmol_l"),
            ("c_peptide", "0.08 nmol/L", "0.08", "nmol_l"),
            ("height", "١٧٣", "173", "cm"),
            ("weight", "74.4 كغ", "74.4", "kg"),
            ("hemoglobin", "١١٦", "11.6", "g_l"),
        ],
    ),
    "example-07": (
        "en",
        [
            ("age", "22 years", "22", "years"),
            ("hba1c", "9.9%", "9.9", "percent"),
            ("c_peptide", "0.06 µg/L", "0.01986", "ug_l"),
            ("c_peptide", "0.09 nmol/L", "0.09", "nmol_l"),
            ("height", "5 ft 3 in", "160.02", "in"),
            ("weight", "131 lb", "59.42060047", "lb"),
            ("hemoglobin", "15", "15", "g_dl"),
        ],
    ),
    "example-08": (
        "ru",
        [
            ("age", "71 лет", "71", "years"),
            ("hba1c", "65mmol/mol", "8.1", "mmol_mol"),
            ("c_peptide", "0,06 ng/mL", "0.01986", "ng_ml"),
            ("c_peptide", "0,21 ng/mL", "0.06951", "ng_ml"),
            ("height", "154 cm", "154", "cm"),
            ("weight", "68 kg", "68", "kg"),
            ("hemoglobin", "14,7", "14.7", "g_dl"),
        ],
    ),
    "example-09": (
        "zh-Hans",
        [
            ("age", "17", "17", "years"),
            ("hba1c", "8 %", "8", "percent"),
            ("c_peptide", "0.06 µg/L", "0.01986", "ug_l"),
            ("c_peptide", "140pmol/L", "0.14", "pmol_l"),
            ("height", "１７６cm", "176", "cm"),
            ("weight", "６３．６千克", "63.6", "kg"),
            ("hemoglobin", "１４７ g/L", "14.7", "g_l"),
        ],
    ),
    "example-10": (
        "zh-Hans",
        [
            ("age", "19岁", "19", "years"),
            ("c_peptide", "0.06 nmol/L", "0.06", "nmol_l"),
            ("c_peptide", "0.3 ng/mL", "0.0993", "ng_ml"),
            ("height", "1米57", "157", "m"),
            ("weight", "72.3公斤", "72.3", "kg"),
            ("hemoglobin", "137", "13.7", "g_l"),
        ],
    ),
    "example-11": (
        "zh-Hant",
        [
            ("age", "６２", "62", "years"),
            ("hba1c", "10.4%", "10.4", "percent"),
            ("c_peptide", "0.06 µg/L", "0.01986", "ug_l"),
            ("c_peptide", "0.09 µg/L", "0.02979", "ug_l"),
            ("height", "1米78", "178", "m"),
            ("weight", "９３公斤", "93", "kg"),
            ("hemoglobin", "117g/L", "11.7", "g_l"),
        ],
    ),
    "example-12": (
        "es",
        [
            ("age", "32", "32", "years"),
            ("hba1c", "7,8 %", "7.8", "percent"),
            ("c_peptide", "50pmol/L", "0.05", "pmol_l"),
            ("c_peptide", "10 pmol/L", "0.01", "pmol_l"),
            ("height", "1,62m", "162", "m"),
            ("weight", "63,5 kg", "63.5", "kg"),
            ("hemoglobin", "13,1g/dL", "13.1", "g_dl"),
        ],
    ),
    "example-13": (
        "es",
        [
            ("age", "17", "17", "years"),
            ("hba1c", "9,8%", "9.8", "percent"),
            ("c_peptide", "0,06 µg/L", "0.01986", "ug_l"),
            ("c_peptide", "0,12 nmol/L", "0.12", "nmol_l"),
            ("height", "1,86m", "186", "m"),
            ("weight", "70,5 kg", "70.5", "kg"),
            ("hemoglobin", "108", "10.8", "g_l"),
        ],
    ),
    "example-14": (
        "ar",
        [
            ("age", "25", "25", "years"),
            ("c_peptide", "0.15 µg/L", "0.04965", "ug_l"),
            ("c_peptide", "0.09 nmol/L", "0.09", "nmol_l"),
            ("height", "١٧٩cm", "179", "cm"),
            ("weight", "٧٢٫٢ كغ", "72.2", "kg"),
            ("hemoglobin", "12.7", "12.7", "g_dl"),
        ],
    ),
    "example-15": (
        "zh-Hant",
        [
            ("age", "17", "17", "years"),
            ("hba1c", "9.9", "9.9", "percent"),
            ("c_peptide", "0.01 nmol/L", "0.01", "nmol_l"),
            ("c_peptide", "100 pmol/L", "0.1", "pmol_l"),
            ("height", "177", "177", "cm"),
            ("weight", "91.1 kg", "91.1", "kg"),
            ("hemoglobin", "8.4 mmol/L", "13.5324", "mmol_l"),
        ],
    ),
    "example-16": (
        "zh-Hant",
        [
            ("age", "３９", "39", "years"),
            ("hba1c", "８５ mmol/mol", "9.9", "mmol_mol"),
            ("c_peptide", "0.18 µg/L", "0.05958", "ug_l"),
            ("height", "1米66", "166", "m"),
            ("weight", "６１公斤", "61", "kg"),
            ("hemoglobin", "１４．１g/dL", "14.1", "g_dl"),
        ],
    ),
    "example-17": (
        "es",
        [
            ("age", "32", "32", "years"),
            ("hba1c", "8,8%", "8.8", "percent"),
            ("c_peptide", "0,18 ng/mL", "0.05958", "ng_ml"),
            ("height", "176cm", "176", "cm"),
            ("weight", "61,6 kg", "61.6", "kg"),
            ("hemoglobin", "12,5 g/dL", "12.5", "g_dl"),
        ],
    ),
    "example-18": (
        "en",
        [
            ("age", "33", "33", "years"),
            ("c_peptide", "0.02 nmol/L", "0.02", "nmol_l"),
            ("c_peptide", "120 pmol/L", "0.12", "pmol_l"),
            ("height", "5 ft 9 in", "175.26", "in"),
            ("weight", "71.7kg", "71.7", "kg"),
            ("hemoglobin", "7.9 mmol/L", "12.7269", "mmol_l"),
        ],
    ),
}


@pytest.mark.parametrize("example", sorted(EXAMPLE_MEASUREMENTS))
def test_example_measurements(specs: dict[str, MeasureSpec], example: str) -> None:
    lang, answers = EXAMPLE_MEASUREMENTS[example]
    for quantity, text, value, unit in answers:
        got = read(specs, quantity, text, lang)
        assert (got.status, got.value, got.unit) == ("ok", D(value), unit), (quantity, text, got)


@pytest.mark.parametrize(
    ("lang", "quantity"),
    [
        ("ru", "hba1c"),  # example-05
        ("zh-Hans", "hba1c"),  # example-10
        ("ar", "hba1c"),  # example-14
        ("zh-Hant", "c_peptide"),  # example-16
        ("es", "c_peptide"),  # example-17
        ("en", "hba1c"),  # example-18
    ],
)
def test_example_unknown_measurements(
    specs: dict[str, MeasureSpec], lang: str, quantity: str
) -> None:
    assert read(specs, quantity, "unknown", lang) == Measured("unknown")


def test_example_weight_in_jin_from_the_spec(specs: dict[str, MeasureSpec]) -> None:
    # screening-spec.md's profile sketch: {"age": "45岁", "weight": "130斤"}
    check(read(specs, "age", "45岁", "zh-Hans"), "ok", "45", "years")
    check(read(specs, "weight", "130斤", "zh-Hans"), "ok", "65", "jin", "130")


# ---------------------------------------------------------------------------
# Units and conversions, in every language's way of writing them


UNIT_CASES = [
    # age
    ("age", "45", "45", "years"),
    ("age", "45 years", "45", "years"),
    ("age", "45 yrs", "45", "years"),
    ("age", "45 years old", "45", "years"),
    ("age", "45岁", "45", "years"),
    ("age", "45周岁", "45", "years"),
    ("age", "45歲", "45", "years"),
    ("age", "45 лет", "45", "years"),
    ("age", "41 год", "41", "years"),
    ("age", "42 года", "42", "years"),
    ("age", "45 años", "45", "years"),
    ("age", "45 سنة", "45", "years"),
    ("age", "45 عام", "45", "years"),
    ("age", "45.7", "45", "years"),
    ("age", "45,9 лет", "45", "years"),
    # HbA1c
    ("hba1c", "7.5%", "7.5", "percent"),
    ("hba1c", "7.5 %", "7.5", "percent"),
    ("hba1c", "7,5％", "7.5", "percent"),
    ("hba1c", "7.5 percent", "7.5", "percent"),
    ("hba1c", "7,5 por ciento", "7.5", "percent"),
    ("hba1c", "٧٫٥٪", "7.5", "percent"),
    ("hba1c", "7.45%", "7.45", "percent"),  # typed % is never rounded
    ("hba1c", "53 mmol/mol", "7.0", "mmol_mol"),
    ("hba1c", "52 mmol/mol", "6.9", "mmol_mol"),
    ("hba1c", "58 ммоль/моль", "7.5", "mmol_mol"),
    ("hba1c", "58 MMOL/MOL", "7.5", "mmol_mol"),
    ("hba1c", "58 mmol / mol", "7.5", "mmol_mol"),
    # C-peptide
    ("c_peptide", "0.5 nmol/L", "0.5", "nmol_l"),
    ("c_peptide", "0,5 нмоль/л", "0.5", "nmol_l"),
    ("c_peptide", "50 pmol/L", "0.05", "pmol_l"),
    ("c_peptide", "50 пмоль/л", "0.05", "pmol_l"),
    ("c_peptide", "0.5 ng/mL", "0.1655", "ng_ml"),
    ("c_peptide", "0,5 нг/мл", "0.1655", "ng_ml"),
    ("c_peptide", "0.5 µg/L", "0.1655", "ug_l"),  # U+00B5 micro sign
    ("c_peptide", "0.5 μg/L", "0.1655", "ug_l"),  # U+03BC Greek mu
    ("c_peptide", "0.5 ug/L", "0.1655", "ug_l"),
    ("c_peptide", "0.5 mcg/L", "0.1655", "ug_l"),
    ("c_peptide", "0,5 мкг/л", "0.1655", "ug_l"),
    ("c_peptide", "0.5 NG/ML", "0.1655", "ng_ml"),
    # height
    ("height", "170 cm", "170", "cm"),
    ("height", "170厘米", "170", "cm"),
    ("height", "170公分", "170", "cm"),
    ("height", "170 см", "170", "cm"),
    ("height", "170 سم", "170", "cm"),
    ("height", "1.7 m", "170", "m"),
    ("height", "1.7米", "170", "m"),
    ("height", "1,7 м", "170", "m"),
    ("height", "1.7 م", "170", "m"),
    ("height", "1,70 metros", "170", "m"),
    ("height", "1.7公尺", "170", "m"),
    ("height", "70 in", "177.8", "in"),
    ("height", "70 inches", "177.8", "in"),
    ("height", "5.5 ft", "167.64", "ft"),
    # weight
    ("weight", "65 kg", "65", "kg"),
    ("weight", "65 KG", "65", "kg"),
    ("weight", "65公斤", "65", "kg"),
    ("weight", "65千克", "65", "kg"),
    ("weight", "65 кг", "65", "kg"),
    ("weight", "65 كغ", "65", "kg"),
    ("weight", "65 كجم", "65", "kg"),
    ("weight", "65 kilos", "65", "kg"),
    ("weight", "130斤", "65", "jin"),
    ("weight", "131斤", "65.5", "jin"),
    ("weight", "150 lb", "68.0388555", "lb"),
    ("weight", "150 lbs", "68.0388555", "lb"),
    ("weight", "150 pounds", "68.0388555", "lb"),
    ("weight", "150磅", "68.0388555", "lb"),
    ("weight", "150 фунтов", "68.0388555", "lb"),
    ("weight", "1 фунт", None, "lb"),  # implausible, but read
    ("weight", "150 libras", "68.0388555", "lb"),
    # hemoglobin
    ("hemoglobin", "13.5 g/dL", "13.5", "g_dl"),
    ("hemoglobin", "13,5 г/дл", "13.5", "g_dl"),
    ("hemoglobin", "135 g/L", "13.5", "g_l"),
    ("hemoglobin", "135 г/л", "13.5", "g_l"),
    ("hemoglobin", "135克/升", "13.5", "g_l"),
    ("hemoglobin", "135 غ/ل", "13.5", "g_l"),
    ("hemoglobin", "8.5 mmol/L", "13.6935", "mmol_l"),
    ("hemoglobin", "8,5 ммоль/л", "13.6935", "mmol_l"),
    ("hemoglobin", "13.5 G/DL", "13.5", "g_dl"),
    ("hemoglobin", "13.5 g / dl", "13.5", "g_dl"),
]


@pytest.mark.parametrize(("quantity", "cases"), grouped(UNIT_CASES), ids=case_id)
def test_units_and_conversions(
    specs: dict[str, MeasureSpec], quantity: str, cases: list[tuple[str, str | None, str]]
) -> None:
    for text, value, unit in cases:
        got = read(specs, quantity, text)
        assert got.unit == unit, (text, got)
        if value is not None:
            assert (got.status, got.value) == ("ok", D(value)), (text, got)


def test_every_unit_word_in_the_data_is_read_as_its_unit() -> None:
    units = load_units()
    for word, unit_id in units.words.items():
        quantity = units.units[unit_id].quantity
        spec = MeasureSpec(
            quantity=quantity,
            units=tuple(units.quantities[quantity].units),
            bare=(),
            ask=(),
            plausible_min=D("-1e9"),
            plausible_max=D("1e9"),
        )
        got = parse_measurement(f"12 {word}", spec, "en")
        assert (got.status, got.unit, got.number) == ("ok", unit_id, D(12)), (word, got)
        glued = parse_measurement(f"12{word}", spec, "en")
        assert glued.unit == unit_id, (word, glued)


# ---------------------------------------------------------------------------
# Number forms


@pytest.mark.parametrize(
    ("quantity", "text", "value", "unit", "number"),
    [
        # decimal commas (a comma between digits is always a decimal separator)
        ("hba1c", "7,5", "7.5", "percent", "7.5"),
        ("weight", "94,4 kg", "94.4", "kg", "94.4"),
        ("height", "1,64 m", "164", "m", "1.64"),
        ("weight", "1,500 kg", None, "kg", "1.5"),
        # full-width digits, point, percent sign and comma
        ("height", "１７６", "176", "cm", "176"),
        ("hba1c", "７．５％", "7.5", "percent", "7.5"),
        ("hba1c", "７，５", "7.5", "percent", "7.5"),
        ("weight", "６３．６千克", "63.6", "kg", "63.6"),
        ("hba1c", "7。5", "7.5", "percent", "7.5"),  # Chinese full stop typed for "."
        # Arabic-Indic and Extended Arabic-Indic digits, Arabic separators
        ("hba1c", "٧٫٥", "7.5", "percent", "7.5"),
        ("hba1c", "۷٫۵", "7.5", "percent", "7.5"),
        ("weight", "۷۲ kg", "72", "kg", "72"),
        ("hba1c", "٧٬٥", "7.5", "percent", "7.5"),
        ("weight", "١٬٢٠٠ kg", None, "kg", "1200"),  # ٬ before three digits: thousands
        ("height", "\u200f١٧٣ سم\u200f", "173", "cm", "173"),  # right-to-left marks
        # leading point, trailing point, spaces
        ("c_peptide", ".05 nmol/L", "0.05", "nmol_l", "0.05"),
        ("age", "45.", "45", "years", "45"),
        ("weight", "  65   kg  ", "65", "kg", "65"),
        ("weight", "65 kg!", "65", "kg", "65"),
        ("hba1c", "7.50%", "7.50", "percent", "7.50"),
    ],
)
def test_number_forms(
    specs: dict[str, MeasureSpec],
    quantity: str,
    text: str,
    value: str | None,
    unit: str,
    number: str,
) -> None:
    got = read(specs, quantity, text)
    assert got.unit == unit, got
    assert got.number == D(number), got
    if value is not None:
        check(got, "ok", value)


# ---------------------------------------------------------------------------
# Hedges, "less than", minus


HEDGED = [
    ("zh-Hans", "65公斤左右"),
    ("zh-Hans", "约65公斤"),
    ("zh-Hans", "大约65公斤"),
    ("zh-Hans", "大概 65 公斤"),
    ("zh-Hans", "差不多65公斤"),
    ("zh-Hant", "大約65公斤"),
    ("zh-Hant", "65公斤左右"),
    ("en", "about 65 kg"),
    ("en", "around 65kg"),
    ("en", "approximately 65 kg"),
    ("en", "approx. 65 kg"),
    ("en", "~65 kg"),
    ("en", "65 kg or so"),
    ("en", "65ish kg"),
    ("ru", "примерно 65 кг"),
    ("ru", "около 65 кг"),
    ("ru", "65 кг примерно"),
    ("es", "unos 65 kg"),
    ("es", "aproximadamente 65 kg"),
    ("es", "más o menos 65 kg"),
    ("ar", "حوالي 65 كغ"),
    ("ar", "حوالى ٦٥ كغ"),
    ("ar", "٦٥ كغ تقريبا"),
]


@pytest.mark.parametrize(("lang", "texts"), grouped(HEDGED), ids=case_id)
def test_hedges_are_ignored(
    specs: dict[str, MeasureSpec], lang: str, texts: list[tuple[str]]
) -> None:
    for (text,) in texts:
        got = read(specs, "weight", text, lang)
        assert got == Measured("ok", value=D(65), number=D(65), unit="kg"), (text, got)


def test_every_hedge_and_less_than_word_in_the_data(specs: dict[str, MeasureSpec]) -> None:
    lex = load_lexicon()
    for words in lex.hedges.values():
        for word in words:
            check(read(specs, "weight", f"{word} 65 kg"), "ok", "65", "kg")
            check(read(specs, "weight", f"65 kg {word}"), "ok", "65", "kg")
    for words in lex.less_than.values():
        for word in words:
            check(read(specs, "c_peptide", f"{word} 0.01 nmol/L"), "ok", "0.01", "nmol_l")


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "<0.01 nmol/L"),
        ("en", "< 0.01 nmol/L"),
        ("zh-Hans", "＜0.01 nmol/L"),
        ("zh-Hans", "低于0.01 nmol/L"),
        ("zh-Hans", "0.01 nmol/L以下"),
        ("zh-Hant", "低於0.01 nmol/L"),
        ("en", "less than 0.01 nmol/L"),
        ("ru", "менее 0,01 нмоль/л"),
        ("ru", "<0,01 нмоль/л"),
        ("es", "menos de 0,01 nmol/L"),
        ("ar", "أقل من 0.01 nmol/L"),
        ("ar", "اقل من ٠٫٠١ nmol/L"),
    ],
)
def test_less_than_reads_as_the_value(specs: dict[str, MeasureSpec], lang: str, text: str) -> None:
    check(read(specs, "c_peptide", text, lang), "ok", "0.01", "nmol_l", "0.01")


@pytest.mark.parametrize("text", ["＜0.01", "<0.01", "低于0.01", "менее 0,01"])
def test_less_than_without_unit_asks_then_reads(specs: dict[str, MeasureSpec], text: str) -> None:
    spec = specs["c_peptide"]
    first = parse_measurement(text, spec, "zh-Hans")
    assert first == Measured("need_unit", number=D("0.01"), choices=("nmol_l", "ng_ml", "pmol_l"))
    check(parse_measurement(text, spec, "zh-Hans", "nmol_l"), "ok", "0.01", "nmol_l")


@pytest.mark.parametrize(
    ("quantity", "text", "value"),
    [
        ("age", "-5", "-5"),
        ("age", "−5", "-5"),  # U+2212 minus sign
        ("age", "- 5", "-5"),
        ("weight", "-65 kg", "-65"),
        ("c_peptide", "-0.01 nmol/L", "-0.01"),
        ("hba1c", "-7", "-7"),
    ],
)
def test_minus_makes_a_number_negative(
    specs: dict[str, MeasureSpec], quantity: str, text: str, value: str
) -> None:
    check(read(specs, quantity, text), "implausible", value)


def test_negative_bare_number_without_a_rule_still_asks(specs: dict[str, MeasureSpec]) -> None:
    got = read(specs, "weight", "-5")
    assert got == Measured("need_unit", number=D(-5), choices=("kg", "jin", "lb"))
    check(parse_measurement("-5", specs["weight"], "en", "kg"), "implausible", "-5", "kg")


# ---------------------------------------------------------------------------
# Compound heights


COMPOUND_HEIGHTS = [
    ("5'6\"", "167.64", "66", "in"),
    ("5′6″", "167.64", "66", "in"),  # prime and double prime
    ("5’6”", "167.64", "66", "in"),  # curly quotes from a phone keyboard
    ("5'6''", "167.64", "66", "in"),
    ("5' 6\"", "167.64", "66", "in"),
    ("5'6", "167.64", "66", "in"),
    ("5 ft 6 in", "167.64", "66", "in"),
    ("5ft6in", "167.64", "66", "in"),
    ("5 ft 6", "167.64", "66", "in"),
    ("5 feet 6 inches", "167.64", "66", "in"),
    ("5 feet and 6 inches", "167.64", "66", "in"),
    ("5 ft 6.5 in", "168.91", "66.5", "in"),
    ("6 ft 0 in", "182.88", "72", "in"),
    ("5 ft", "152.4", "5", "ft"),
    ("5'", "152.4", "5", "ft"),
    ("5 pies 6 pulgadas", "167.64", "66", "in"),
    ("5 pies y 6 pulgadas", "167.64", "66", "in"),
    ("5 футов 6 дюймов", "167.64", "66", "in"),
    ("about 5'6\"", "167.64", "66", "in"),
    ("1米65", "165", "1.65", "m"),
    ("1米6", "160", "1.6", "m"),  # one digit after 米: tenths of a metre
    ("1米05", "105", "1.05", "m"),
    ("1米65左右", "165", "1.65", "m"),
    ("1m65", "165", "1.65", "m"),
    ("1 m 65", "165", "1.65", "m"),
    ("1公尺65", "165", "1.65", "m"),
    ("1m 65cm", "165", "165", "cm"),
    ("1米65厘米", "165", "165", "cm"),
    ("一米六五", "165", "1.65", "m"),
    ("一米六", "160", "1.6", "m"),
    ("一米七五左右", "175", "1.75", "m"),
]


@pytest.mark.parametrize(
    ("family", "cases"),
    grouped([("feet" if c[3] in ("ft", "in") else "metres", *c) for c in COMPOUND_HEIGHTS]),
    ids=case_id,
)
def test_compound_heights(
    specs: dict[str, MeasureSpec], family: str, cases: list[tuple[str, str, str, str]]
) -> None:
    for text, value, number, unit in cases:
        got = read(specs, "height", text)
        check(got, "ok", value, unit, number, note=text)
        assert convert(got.number or D(0), unit, "height") == got.value, text


@pytest.mark.parametrize(
    "text", ["5'12\"", "5.5'6\"", "5 ft 6 cm", "1米6.5", "1m 120cm", "5 ft and", "5 ft 6 in 7"]
)
def test_broken_compound_heights(specs: dict[str, MeasureSpec], text: str) -> None:
    assert read(specs, "height", text).status in ("invalid", "several")


# ---------------------------------------------------------------------------
# Bare numbers: the spec's rules at their boundaries


BARE_NUMBERS = [
    ("hba1c", "19.9", "ok", "19.9", "percent"),
    ("hba1c", "20", "need_unit", None, None),
    ("hba1c", "22.5", "need_unit", None, None),
    ("hba1c", "25", "need_unit", None, None),
    ("hba1c", "25.1", "ok", "4.4", "mmol_mol"),
    ("hba1c", "53", "ok", "7.0", "mmol_mol"),
    ("hba1c", "52", "ok", "6.9", "mmol_mol"),
    ("hba1c", "2", "implausible", "2", "percent"),
    ("c_peptide", "4.9", "need_unit", None, None),
    ("c_peptide", "5", "ok", "0.005", "pmol_l"),
    ("c_peptide", "0.3", "need_unit", None, None),
    ("c_peptide", "10000", "ok", "10", "pmol_l"),
    ("c_peptide", "10001", "implausible", "10.001", "pmol_l"),
    ("height", "0.99", "need_unit", None, None),
    ("height", "1.0", "ok", "100", "m"),
    ("height", "1", "ok", "100", "m"),
    ("height", "2.5", "ok", "250", "m"),
    ("height", "2.51", "need_unit", None, None),
    ("height", "99", "need_unit", None, None),
    ("height", "100", "ok", "100", "cm"),
    ("height", "250", "ok", "250", "cm"),
    ("height", "251", "need_unit", None, None),
    ("weight", "65", "need_unit", None, None),
    ("weight", "130", "need_unit", None, None),
    ("hemoglobin", "2.9", "need_unit", None, None),
    ("hemoglobin", "3", "ok", "3", "g_dl"),
    ("hemoglobin", "25", "ok", "25", "g_dl"),
    ("hemoglobin", "26", "need_unit", None, None),
    ("hemoglobin", "29.9", "need_unit", None, None),
    ("hemoglobin", "30", "ok", "3", "g_l"),
    ("hemoglobin", "250", "ok", "25", "g_l"),
    ("hemoglobin", "251", "implausible", "25.1", "g_l"),
    ("age", "45", "ok", "45", "years"),
]


@pytest.mark.parametrize(("quantity", "cases"), grouped(BARE_NUMBERS), ids=case_id)
def test_bare_number_rules(
    specs: dict[str, MeasureSpec],
    quantity: str,
    cases: list[tuple[str, str, str | None, str | None]],
) -> None:
    for text, status, value, unit in cases:
        got = read(specs, quantity, text)
        assert got.number == D(text), (text, got)
        if status == "need_unit":
            assert got == Measured("need_unit", number=D(text), choices=specs[quantity].ask), text
        else:
            check(got, status, value, unit, note=text)


FORCED = [
    ("hba1c", "20", "percent", "ok", "20"),
    ("hba1c", "22", "mmol_mol", "ok", "4.2"),
    ("hba1c", "25", "percent", "implausible", "25"),
    ("c_peptide", "0.3", "nmol_l", "ok", "0.3"),
    ("c_peptide", "0.3", "ng_ml", "ok", "0.0993"),
    ("c_peptide", "4.9", "pmol_l", "ok", "0.0049"),
    ("c_peptide", "20", "nmol_l", "implausible", "20"),  # bare rules skipped
    ("height", "99", "cm", "implausible", "99"),
    ("height", "0.99", "m", "implausible", "99"),
    ("height", "251", "cm", "implausible", "251"),
    ("height", "170", "m", "implausible", "17000"),
    ("weight", "130", "jin", "ok", "65"),
    ("weight", "130", "kg", "ok", "130"),
    ("weight", "130", "lb", "ok", "58.9670081"),
    ("hemoglobin", "2.9", "g_dl", "ok", "2.9"),
    ("hemoglobin", "29.9", "g_l", "ok", "2.99"),
    ("hemoglobin", "8.8", "mmol_l", "ok", "14.1768"),
    ("hemoglobin", "26", "g_dl", "implausible", "26"),
]


@pytest.mark.parametrize(("quantity", "cases"), grouped(FORCED), ids=case_id)
def test_forced_unit(
    specs: dict[str, MeasureSpec], quantity: str, cases: list[tuple[str, str, str, str]]
) -> None:
    for text, forced, status, value in cases:
        got = parse_measurement(text, specs[quantity], "en", forced_unit=forced)
        check(got, status, value, forced, text, note=f"{text} in {forced}")


def test_typed_unit_wins_over_forced_unit(specs: dict[str, MeasureSpec]) -> None:
    check(parse_measurement("65 kg", specs["weight"], "zh-Hans", "jin"), "ok", "65", "kg")


def test_forced_unit_must_be_one_of_the_spec(specs: dict[str, MeasureSpec]) -> None:
    with pytest.raises(ValueError, match="forced unit"):
        parse_measurement("65", specs["weight"], "en", forced_unit="cm")


# ---------------------------------------------------------------------------
# Plausible ranges (inclusive at both ends, canonical unit)


@pytest.mark.parametrize(
    ("quantity", "inside", "outside"),
    [
        ("age", ["1", "120", "120.9", "1 year"], ["0", "0.9", "121", "-1"]),
        ("height", ["100 cm", "250 cm", "1 m", "2.5 m"], ["99.9 cm", "250.1 cm", "2.51 m"]),
        ("weight", ["20 kg", "300 kg", "40斤", "600斤"], ["19.9 kg", "300.1 kg", "601斤"]),
        ("hba1c", ["3%", "20%", "9 mmol/mol"], ["2.9%", "20.1%", "8 mmol/mol"]),
        ("c_peptide", ["0 nmol/L", "10 nmol/L", "10000 pmol/L"], ["10.01 nmol/L", "31 ng/mL"]),
        ("hemoglobin", ["2 g/dL", "25 g/dL", "20 g/L"], ["1.9 g/dL", "25.1 g/dL", "16 mmol/L"]),
    ],
)
def test_plausible_ranges(
    specs: dict[str, MeasureSpec], quantity: str, inside: list[str], outside: list[str]
) -> None:
    for text in inside:
        assert read(specs, quantity, text).status == "ok", text
    for text in outside:
        got = read(specs, quantity, text)
        assert got.status == "implausible", (text, got)
        assert got.value is not None and got.number is not None and got.unit is not None


def test_age_is_cut_to_whole_years(specs: dict[str, MeasureSpec]) -> None:
    assert read(specs, "age", "45.7") == Measured("ok", D(45), D("45.7"), "years")
    assert read(specs, "age", "45.7岁", "zh-Hans").value == D(45)
    assert read(specs, "age", "17.99").value == D(17)


# ---------------------------------------------------------------------------
# Answers that are not one readable value


@pytest.mark.parametrize(
    "text",
    [
        "70 or 71",
        "7-8",
        "7 - 8",
        "7–8",
        "65 70",
        "7 to 8",
        "7~8",
        "65 kg 70 kg",
        "65 kg or 70 kg",
        "70 или 71",
        "70或71",
        "70 o 71",
        "70 أو 71",
        "7.5 / 58",
        "1 000",
        "65, 66",
    ],
)
def test_several_numbers(specs: dict[str, MeasureSpec], text: str) -> None:
    assert read(specs, "weight", text) == Measured("several")


INVALID = [
    ("age", "1e9"),
    ("age", "1E9"),
    ("weight", "6.5e1 kg"),
    ("weight", "1e-3"),
    ("c_peptide", "10^3 pmol/L"),
    ("age", "😀"),
    ("weight", "🙂 65"),
    ("age", "abc"),
    ("age", "forty-five"),
    ("age", "сорок пять"),
    ("weight", "kg"),
    ("weight", "65 kgx"),
    ("weight", "65 кгг"),
    ("height", "5 min"),
    ("age", "1.2.3"),
    ("age", "1,200.5"),
    ("hba1c", "HbA1c 7.5%"),
    ("hba1c", "7.5 mmol"),
    ("weight", "+65 kg"),
    ("weight", "65 kg 😀"),
    ("weight", "not 65 kg"),
    ("weight", "不是65公斤"),
    ("age", "45 y"),
    ("age", "4５歳"),
]


@pytest.mark.parametrize(("quantity", "texts"), grouped(INVALID), ids=case_id)
def test_invalid(specs: dict[str, MeasureSpec], quantity: str, texts: list[tuple[str]]) -> None:
    for (text,) in texts:
        assert read(specs, quantity, text) == Measured("invalid"), text


@pytest.mark.parametrize("text", ["", " ", "\n\t ", "\u200f", "\u3000"])
def test_empty(specs: dict[str, MeasureSpec], text: str) -> None:
    assert read(specs, "weight", text) == Measured("empty")


@pytest.mark.parametrize(
    "text",
    [
        "word " * 800,
        "a" * 4000,
        "65 kg " + "x" * 3994,
        "1" * 4000,
        "کیلو" * 1000,
    ],
)
def test_very_long_text_is_invalid_and_fast(
    specs: dict[str, MeasureSpec], text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scanned(_text: str) -> str:
        raise AssertionError("an answer over MAX_MEASUREMENT_CHARS was scanned")

    monkeypatch.setattr(answers_module, "_normalise", scanned)  # fast: refused unread
    assert read(specs, "weight", text) == Measured("invalid")


def test_long_hedged_answer_is_still_read(specs: dict[str, MeasureSpec]) -> None:
    text = "approximately " * 10 + "65 kg"
    check(read(specs, "weight", text), "ok", "65", "kg")


@pytest.mark.parametrize(
    ("quantity", "text", "unit"),
    [
        ("hba1c", "7 kg", "kg"),
        ("hba1c", "7.5 g/dL", "g_dl"),
        ("c_peptide", "0.5 mmol/L", "mmol_l"),
        ("weight", "65 cm", "cm"),
        ("height", "170 kg", "kg"),
        ("age", "45 kg", "kg"),
        ("hemoglobin", "12 %", "percent"),
        ("hemoglobin", "12 mmol/mol", "mmol_mol"),
        ("weight", "65 лет", "years"),
    ],
)
def test_wrong_unit(specs: dict[str, MeasureSpec], quantity: str, text: str, unit: str) -> None:
    got = read(specs, quantity, text)
    assert got.status == "wrong_unit", got
    assert got.unit == unit and got.number is not None and got.value is None


def test_unit_of_the_quantity_but_not_of_the_question(specs: dict[str, MeasureSpec]) -> None:
    metric_only = replace(specs["height"], units=("cm", "m"))
    assert read({"h": metric_only}, "h", "5 ft 6 in").status == "wrong_unit"
    assert read({"h": metric_only}, "h", "70 in").status == "wrong_unit"
    check(read({"h": metric_only}, "h", "1米65"), "ok", "165")
    no_ug = replace(specs["c_peptide"], units=("nmol_l", "pmol_l", "ng_ml"))
    assert read({"c": no_ug}, "c", "0.2 µg/L").status == "wrong_unit"


# ---------------------------------------------------------------------------
# "I don't know"


UNKNOWN_WORDS = [
    ("en", "I don't know"),
    ("en", "I don’t know"),
    ("en", "dont know"),
    ("en", "Not sure"),
    ("en", "idk"),
    ("en", "IDK!"),
    ("en", "unknown"),
    ("zh-Hans", "不知道"),
    ("zh-Hans", "不清楚"),
    ("zh-Hans", "不确定"),
    ("zh-Hans", "不知道。"),
    ("zh-Hant", "不知道"),
    ("zh-Hant", "不確定"),
    ("zh-Hant", "不清楚"),
    ("es", "no sé"),
    ("es", "No se"),
    ("es", "No lo sé"),
    ("es", "no estoy seguro"),
    ("es", "¿No sé?"),
    ("ru", "не знаю"),
    ("ru", "Не знаю"),
    ("ru", "незнаю"),
    ("ru", "не уверен"),
    ("ar", "لا أعرف"),
    ("ar", "لا اعرف"),
    ("ar", "لست متأكدا"),
    ("ar", "لست متأكداً"),
    ("en", "не знаю"),  # any language's words
    ("ar", "I don't know"),
]


@pytest.mark.parametrize(("lang", "texts"), grouped(UNKNOWN_WORDS), ids=case_id)
def test_unknown(specs: dict[str, MeasureSpec], lang: str, texts: list[tuple[str]]) -> None:
    for (text,) in texts:
        assert is_unknown(text, lang), text
        assert read(specs, "c_peptide", text, lang) == Measured("unknown"), text


@pytest.mark.parametrize("text", ["", "no", "know", "not", "sure", "no sé 5", "65", "нет"])
def test_not_unknown(text: str) -> None:
    assert not is_unknown(text, "en")


# ---------------------------------------------------------------------------
# Choices

YES_NO = {
    "en": [("yes", "Yes"), ("no", "No"), ("unknown", "I don't know")],
    "zh-Hans": [("yes", "是"), ("no", "否"), ("unknown", "不知道")],
    "zh-Hant": [("yes", "是"), ("no", "否"), ("unknown", "不知道")],
    "es": [("yes", "Sí"), ("no", "No"), ("unknown", "No lo sé")],
    "ru": [("yes", "Да"), ("no", "Нет"), ("unknown", "Не знаю")],
    "ar": [("yes", "نعم"), ("no", "لا"), ("unknown", "لا أعرف")],
}
SEX = {
    "en": [("female", "Female"), ("male", "Male")],
    "zh-Hans": [("female", "女"), ("male", "男")],
    "zh-Hant": [("female", "女"), ("male", "男")],
    "es": [("female", "Mujer"), ("male", "Hombre")],
    "ru": [("female", "Женский"), ("male", "Мужской")],
    "ar": [("female", "أنثى"), ("male", "ذكر")],
}
TYPES = {
    "en": [
        ("type1", "Type 1 (insulin since childhood)"),
        ("type2", "Type 2"),
        ("pancreatectomy", "After pancreas surgery"),
        ("gestational", "Gestational – only during pregnancy"),
        ("other", "Another kind"),
        ("unknown", "I don't know"),
    ],
    "zh-Hans": [
        ("type1", "1型糖尿病（从小用胰岛素）"),
        ("type2", "2型糖尿病"),
        ("pancreatectomy", "胰腺切除术后"),
        ("gestational", "妊娠糖尿病"),
        ("other", "其他类型"),
        ("unknown", "不知道"),
    ],
    "zh-Hant": [
        ("type1", "第一型糖尿病（從小用胰島素）"),
        ("type2", "第二型糖尿病"),
        ("pancreatectomy", "胰臟切除術後"),
        ("gestational", "妊娠糖尿病"),
        ("other", "其他類型"),
        ("unknown", "不知道"),
    ],
    "es": [
        ("type1", "Tipo 1 (insulina desde la infancia)"),
        ("type2", "Tipo 2"),
        ("pancreatectomy", "Tras una cirugía de páncreas"),
        ("gestational", "Gestacional (solo en el embarazo)"),
        ("other", "Otro tipo"),
        ("unknown", "No lo sé"),
    ],
    "ru": [
        ("type1", "1 типа (инсулин с детства)"),
        ("type2", "2 типа"),
        ("pancreatectomy", "После операции на поджелудочной"),
        ("gestational", "Гестационный (во время беременности)"),
        ("other", "Другой"),
        ("unknown", "Не знаю"),
    ],
    "ar": [
        ("type1", "النوع الأول (إنسولين منذ الطفولة)"),
        ("type2", "النوع الثاني"),
        ("pancreatectomy", "بعد استئصال البنكرياس"),
        ("gestational", "سكري الحمل"),
        ("other", "نوع آخر"),
        ("unknown", "لا أعرف"),
    ],
}


# Every typed choice answer in the example profiles (and the ids used as taps).
EXAMPLE_CHOICES = [
    ("ar", "نعم", "yes"),
    ("ar", "لا", "no"),
    ("ru", "нет", "no"),
    ("ru", "Да", "yes"),
    ("en", "Yes", "yes"),
    ("en", "No", "no"),
    ("zh-Hans", "否", "no"),
    ("zh-Hans", "是", "yes"),
    ("zh-Hant", "是", "yes"),
    ("zh-Hant", "否", "no"),
    ("es", "sí", "yes"),
    ("es", "Sí", "yes"),
    ("en", "yes", "yes"),
    ("ru", "no", "no"),
    ("ar", "yes", "yes"),
    ("zh-Hans", "no", "no"),
]


@pytest.mark.parametrize(("lang", "cases"), grouped(EXAMPLE_CHOICES), ids=case_id)
def test_example_choices(lang: str, cases: list[tuple[str, str]]) -> None:
    for text, expected in cases:
        assert match_choice(text, YES_NO[lang], lang) == expected, text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("options", "taps"),
    [
        (YES_NO, ["yes", "no", "unknown"]),
        (SEX, ["female", "male"]),
        (TYPES, ["type1", "type2", "pancreatectomy", "gestational", "other", "unknown"]),
    ],
)
def test_option_ids_and_labels_match(
    lang: str, options: dict[str, list[tuple[str, str]]], taps: list[str]
) -> None:
    for option_id, label in options[lang]:
        assert match_choice(label, options[lang], lang) == option_id
        assert match_choice(f" {label.upper()}! ", options[lang], lang) == option_id
    for option_id in taps:
        assert match_choice(option_id, options[lang], lang) == option_id


YES_NO_WORDS = {
    "en": (
        ["yes", "Y", "yeah", "Yep", "yes!"],
        ["no", "N", "nope", "No."],
        ["I don't know", "dont know", "not sure", "idk", "Not sure."],
    ),
    "zh-Hans": (
        ["是", "是的", "对", "有"],
        ["否", "不是", "没有", "不", "没有。"],
        ["不知道", "不清楚", "不确定"],
    ),
    "zh-Hant": (
        ["是", "是的", "對", "有"],
        ["否", "不是", "沒有", "不", "没有"],
        ["不知道", "不清楚", "不確定", "不确定"],
    ),
    "es": (
        ["sí", "si", "Sí", "SI", "¡Sí!"],
        ["no", "No"],
        ["no sé", "no se", "no lo sé", "No estoy seguro", "no estoy segura"],
    ),
    "ru": (
        ["да", "Да", "ДА"],
        ["нет", "Нет."],
        ["не знаю", "не уверен", "незнаю", "Не знаю"],
    ),
    "ar": (
        ["نعم"],
        ["لا"],
        ["لا أعرف", "لا اعرف", "لست متأكدا", "لست متأكدًا"],
    ),
}


@pytest.mark.parametrize("lang", LANGS)
def test_everyday_yes_no_unknown(lang: str) -> None:
    yes, no, unknown = YES_NO_WORDS[lang]
    for expected, words in (("yes", yes), ("no", no), ("unknown", unknown)):
        for word in words:
            assert match_choice(word, YES_NO[lang], lang) == expected, word


@pytest.mark.parametrize("lang", ["zh-Hans", "zh-Hant", "es", "ru", "ar"])
def test_english_is_the_fallback(lang: str) -> None:
    assert match_choice("yes", [("yes", "-"), ("no", "-")], lang) == "yes"
    assert match_choice("nope", [("yes", "-"), ("no", "-")], lang) == "no"
    assert match_choice("not sure", YES_NO[lang], lang) == "unknown"
    assert match_choice("female", [("female", "-"), ("male", "-")], lang) == "female"


SEX_WORDS = [
    ("en", "female", "female"),
    ("en", "Woman", "female"),
    ("en", "F", "female"),
    ("en", "male", "male"),
    ("en", "man", "male"),
    ("en", "m", "male"),
    ("zh-Hans", "女", "female"),
    ("zh-Hans", "女性", "female"),
    ("zh-Hans", "男", "male"),
    ("zh-Hans", "男性", "male"),
    ("zh-Hant", "女性", "female"),
    ("zh-Hant", "男性", "male"),
    ("es", "mujer", "female"),
    ("es", "femenino", "female"),
    ("es", "hombre", "male"),
    ("es", "Masculino", "male"),
    ("ru", "женский", "female"),
    ("ru", "женщина", "female"),
    ("ru", "Ж", "female"),
    ("ru", "мужской", "male"),
    ("ru", "мужчина", "male"),
    ("ru", "м", "male"),
    ("ar", "أنثى", "female"),
    ("ar", "انثى", "female"),
    ("ar", "امرأة", "female"),
    ("ar", "ذكر", "male"),
    ("ar", "رجل", "male"),
]


@pytest.mark.parametrize(("lang", "cases"), grouped(SEX_WORDS), ids=case_id)
def test_sex_words(lang: str, cases: list[tuple[str, str]]) -> None:
    for text, expected in cases:
        assert match_choice(text, SEX[lang], lang) == expected, text


TYPE_WORDS = [
    ("en", "type 1", "type1"),
    ("en", "Type 1", "type1"),
    ("en", "T1", "type1"),
    ("en", "type 2", "type2"),
    ("en", "t2d", "type2"),
    ("en", "pancreatectomy", "pancreatectomy"),
    ("en", "gestational", "gestational"),
    ("en", "other", "other"),
    ("en", "not sure", "unknown"),
    ("zh-Hans", "1型", "type1"),
    ("zh-Hans", "1型糖尿病", "type1"),
    ("zh-Hans", "一型", "type1"),
    ("zh-Hans", "2型", "type2"),
    ("zh-Hans", "胰腺切除", "pancreatectomy"),
    ("zh-Hans", "其他", "other"),
    ("zh-Hant", "1型", "type1"),
    ("zh-Hant", "第一型", "type1"),
    ("zh-Hant", "2型糖尿病", "type2"),
    ("zh-Hant", "第一型糖尿病", "type1"),  # label head before "（"
    ("es", "tipo 1", "type1"),
    ("es", "Tipo 2", "type2"),
    ("es", "gestacional", "gestational"),
    ("es", "otro", "other"),
    ("ru", "тип 1", "type1"),
    ("ru", "1 тип", "type1"),
    ("ru", "1 типа", "type1"),
    ("ru", "2 тип", "type2"),
    ("ru", "гестационный", "gestational"),
    ("ru", "другой", "other"),
    ("ar", "النوع الأول", "type1"),
    ("ar", "النوع الاول", "type1"),
    ("ar", "النوع الثاني", "type2"),
    ("ar", "سكري الحمل", "gestational"),
    ("ar", "لا أعرف", "unknown"),
]


@pytest.mark.parametrize(("lang", "cases"), grouped(TYPE_WORDS), ids=case_id)
def test_diabetes_type_words(lang: str, cases: list[tuple[str, str]]) -> None:
    for text, expected in cases:
        assert match_choice(text, TYPES[lang], lang) == expected, text


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "Gestational", "gestational"),  # before " – "
        ("en", "Another kind", "other"),
        ("es", "Gestacional", "gestational"),  # before "("
        ("ru", "Гестационный", "gestational"),
        ("ar", "النوع الأول", "type1"),
    ],
)
def test_label_head_before_parenthesis_or_dash(lang: str, text: str, expected: str) -> None:
    assert match_choice(text, TYPES[lang], lang) == expected
    options = [("a", "Something odd (tell the team)"), ("b", "Something else — maybe")]
    assert match_choice("something odd", options, lang) == "a"
    assert match_choice("Something else", options, lang) == "b"


NO_MATCH = [
    ("en", "not sure", [("yes", "Yes"), ("no", "No")]),  # never "no"
    ("en", "not", YES_NO["en"]),
    ("en", "noo", YES_NO["en"]),
    ("en", "ye", YES_NO["en"]),
    ("en", "maybe", YES_NO["en"]),
    ("en", "yes no", YES_NO["en"]),
    ("en", "no idea", [("yes", "Yes"), ("no", "No")]),
    ("en", "", YES_NO["en"]),
    ("en", "?!", YES_NO["en"]),
    ("en", "😀", YES_NO["en"]),
    ("en", "nonbinary", SEX["en"]),
    ("en", "other", SEX["en"]),
    ("en", "I don't know", SEX["en"]),
    ("en", "type 3", TYPES["en"]),
    ("en", "3", TYPES["en"]),
    ("en", "yes", SEX["en"]),
    ("zh-Hans", "不知道", [("yes", "是"), ("no", "否")]),
    ("zh-Hans", "不太好", YES_NO["zh-Hans"]),
    ("zh-Hans", "是不是", YES_NO["zh-Hans"]),
    ("zh-Hans", "3型", TYPES["zh-Hans"]),
    ("zh-Hant", "也許", YES_NO["zh-Hant"]),
    ("es", "s", YES_NO["es"]),
    ("es", "no sé", [("yes", "Sí"), ("no", "No")]),
    ("es", "tal vez", YES_NO["es"]),
    ("ru", "не", YES_NO["ru"]),
    ("ru", "не уверен", [("yes", "Да"), ("no", "Нет")]),
    ("ru", "может быть", YES_NO["ru"]),
    ("ar", "ربما", YES_NO["ar"]),
    ("ar", "لست متأكدا", [("yes", "نعم"), ("no", "لا")]),
    ("ar", "لا أعرف", SEX["ar"]),
]


@pytest.mark.parametrize(("lang", "cases"), grouped(NO_MATCH), ids=case_id)
def test_no_match(lang: str, cases: list[tuple[str, list[tuple[str, str]]]]) -> None:
    for text, options in cases:
        assert match_choice(text, options, lang) is None, (text, options)


def test_ambiguous_labels_match_nothing() -> None:
    options = [("a", "Same"), ("b", "Same")]
    assert match_choice("same", options, "en") is None


def test_every_lexicon_word_matches_its_own_option() -> None:
    lex = load_lexicon()
    groups = [
        ["yes", "no", "unknown"],
        ["female", "male"],
        ["type1", "type2", "pancreatectomy", "gestational", "other", "unknown"],
    ]
    for group in groups:
        options = [(option_id, option_id) for option_id in group]
        for lang in lex.languages:
            for option_id in group:
                for word in lex.words(option_id, lang):
                    assert match_choice(word, options, lang) == option_id, (lang, word)


def test_unknown_language_tag_reads_english() -> None:
    assert match_choice("nope", YES_NO["en"], "fr") == "no"
    assert match_choice("да", YES_NO["en"], "fr") is None


# ---------------------------------------------------------------------------
# Helpers: canonical units, convert, labels, BMI, bare rules, spec checks


@pytest.mark.parametrize(
    ("quantity", "unit"),
    [
        ("age", "years"),
        ("hba1c", "percent"),
        ("c_peptide", "nmol_l"),
        ("height", "cm"),
        ("weight", "kg"),
        ("hemoglobin", "g_dl"),
    ],
)
def test_canonical_unit(quantity: str, unit: str) -> None:
    assert canonical_unit(quantity) == unit
    assert convert(D("12.34"), unit, quantity) == D("12.34")


CONVERSIONS = [
    ("53", "mmol_mol", "hba1c", "7.0"),
    ("52", "mmol_mol", "hba1c", "6.9"),
    ("48", "mmol_mol", "hba1c", "6.5"),
    ("75", "mmol_mol", "hba1c", "9.0"),
    ("7.45", "percent", "hba1c", "7.45"),
    ("1", "ng_ml", "c_peptide", "0.331"),
    ("1", "ug_l", "c_peptide", "0.331"),
    ("1000", "pmol_l", "c_peptide", "1"),
    ("1", "pmol_l", "c_peptide", "0.001"),
    ("10", "g_l", "hemoglobin", "1"),
    ("1", "mmol_l", "hemoglobin", "1.611"),
    ("2", "jin", "weight", "1"),
    ("1", "lb", "weight", "0.45359237"),
    ("1", "in", "height", "2.54"),
    ("1", "ft", "height", "30.48"),
    ("1", "m", "height", "100"),
]


@pytest.mark.parametrize(
    ("quantity", "cases"),
    grouped([(c[2], c[0], c[1], c[3]) for c in CONVERSIONS]),
    ids=case_id,
)
def test_convert(quantity: str, cases: list[tuple[str, str, str]]) -> None:
    for value, unit, expected in cases:
        got = convert(D(value), unit, quantity)
        # exact decimals; rounding only where the spec rounds (HbA1c from mmol/mol)
        assert str(got) == expected, (value, unit, got)


def test_convert_rejects_foreign_units() -> None:
    with pytest.raises(ValueError, match="not a unit of"):
        convert(D(1), "kg", "hba1c")
    with pytest.raises(ValueError, match="unknown unit"):
        convert(D(1), "stone", "weight")
    with pytest.raises(ValueError, match="unknown quantity"):
        canonical_unit("glucose")


def test_hba1c_rounding_is_half_up() -> None:
    # 20.22095... mmol/mol is exactly 4.00 %; find typed values whose % ends in 5
    # at the second decimal and check they round up, not to even.
    halfway = D("10.929") * (D("4.05") - D("2.15"))  # 20.7651 mmol/mol -> 4.05 %
    assert convert(halfway, "mmol_mol", "hba1c") == D("4.1")
    halfway = D("10.929") * (D("4.25") - D("2.15"))  # -> 4.25 % (even neighbour 4.2)
    assert convert(halfway, "mmol_mol", "hba1c") == D("4.3")


@pytest.mark.parametrize(
    ("unit", "lang", "label"),
    [
        ("kg", "en", "kg"),
        ("kg", "zh-Hans", "公斤"),
        ("jin", "zh-Hans", "斤"),
        ("jin", "zh-Hant", "斤"),
        ("g_l", "ru", "г/л"),
        ("g_dl", "ru", "г/дл"),
        ("cm", "ar", "سم"),
        ("cm", "zh-Hant", "公分"),
        ("m", "zh-Hans", "米"),
        ("percent", "es", "%"),
        ("mmol_mol", "ru", "ммоль/моль"),
        ("ug_l", "en", "µg/L"),
        ("years", "ru", "лет"),
        ("kg", "fr", "kg"),  # no label in that language: English
    ],
)
def test_unit_label(unit: str, lang: str, label: str) -> None:
    assert unit_label(unit, lang) == label


def test_every_unit_has_a_label_in_every_language() -> None:
    for unit in load_units().units:
        for lang in LANGS:
            assert unit_label(unit, lang).strip()
    with pytest.raises(ValueError):
        unit_label("stone", "en")


@pytest.mark.parametrize(
    ("weight", "height", "expected"),
    [
        ("68.5", "155", "28.5"),  # example-01
        ("140.2", "200", "35.1"),  # exactly 35.05: half up
        ("56.2", "200", "14.1"),  # exactly 14.05: half up, not to even
        ("56.1", "200", "14.0"),  # exactly 14.025
        ("35.05", "100", "35.1"),
        ("65", "165", "23.9"),
        ("59.42060047", "160.02", "23.2"),  # example-07 in converted units
    ],
)
def test_bmi(weight: str, height: str, expected: str) -> None:
    got = bmi(D(weight), D(height))
    assert got == D(expected)
    assert str(got) == expected


def test_bmi_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        bmi(D(60), D(0))
    with pytest.raises(ValueError):
        bmi(D(-1), D(160))


def test_bare_rule_from_flow_data() -> None:
    assert bare_rule({"lt": "20", "unit": "percent"}) == BareRule("percent", lt=D(20))
    assert bare_rule({"ge": 1.0, "le": "2.5", "unit": "m"}) == BareRule(
        "m", ge=D("1.0"), le=D("2.5")
    )
    assert bare_rule({"gt": 25, "unit": "mmol_mol"}).matches(D("25.1"))
    assert not bare_rule({"gt": 25, "unit": "mmol_mol"}).matches(D(25))
    assert bare_rule({"unit": "years"}).matches(D(-5))
    for bad in (
        {"lt": "20"},
        {"lt": "x", "unit": "percent"},
        {"lt": True, "unit": "percent"},
        {"below": "20", "unit": "percent"},
        {"lt": "NaN", "unit": "percent"},
    ):
        with pytest.raises(ValueError):
            bare_rule(bad)


def test_validate_spec(specs: dict[str, MeasureSpec]) -> None:
    for spec in specs.values():
        validate_spec(spec)
    bad = [
        replace(specs["weight"], quantity="glucose"),
        replace(specs["weight"], units=("kg", "cm")),
        replace(specs["weight"], ask=("kg", "stone")),
        replace(specs["hba1c"], units=("percent",)),  # bare rule to mmol_mol
        replace(specs["weight"], units=()),
        replace(specs["weight"], plausible_min=D(400)),
    ]
    for spec in bad:
        with pytest.raises(ValueError):
            validate_spec(spec)
