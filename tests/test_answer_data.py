"""Tests for the data behind bot.engine.answers: units.yaml and lexicon.yaml loaders."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from bot.engine.lexicon import (
    REQUIRED_OPTIONS,
    DataError,
    clean,
    fold,
    is_unknown_word,
    is_word,
    load_lexicon,
    parse_lexicon,
)
from bot.engine.units import load_units, parse_units

LANGS = ["en", "zh-Hans", "zh-Hant", "es", "ru", "ar"]


def labels(text: str) -> dict[str, str]:
    return dict.fromkeys(LANGS, text)


def small_units() -> dict[str, object]:
    """A valid units file with one quantity, as plain data to break in tests."""
    return {
        "languages": list(LANGS),
        "quantities": {
            "weight": {
                "canonical": "kg",
                "units": {
                    "kg": {"label": labels("kg"), "words": {"en": ["kg"]}},
                    "lb": {
                        "label": labels("lb"),
                        "words": {"en": ["lb"]},
                        "convert": {"factor": "0.45359237"},
                    },
                    "oz": {
                        "label": labels("oz"),
                        "words": {"en": ["oz"]},
                        "convert": {"divide": "16", "to": "lb"},
                    },
                },
                "compounds": [{"major": "lb", "minor": "oz", "minor_below": "16"}],
            }
        },
    }


def units_text(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True)


def test_small_units_file_is_valid() -> None:
    units = parse_units(units_text(small_units()), "test-units.yaml")
    assert units.to_canonical(Decimal(16), "oz", "weight") == Decimal("0.45359237")
    assert units.quantities["weight"].compounds[0].ratio == 16
    assert units.words == {"kg": "kg", "lb": "lb", "oz": "oz"}


def _break(path: list[str], value: object) -> dict[str, object]:
    data = small_units()
    node: dict[str, object] = data
    for key in path[:-1]:
        child = node[key]
        assert isinstance(child, dict)
        node = child
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()
_LB = ["quantities", "weight", "units", "lb"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ([*_LB, "convert", "factor"], 0.45359237, "must be a decimal written as a quoted string"),
        ([*_LB, "convert", "factor"], "abc", "is not a decimal number"),
        ([*_LB, "convert", "factor"], "0", "must be greater than 0"),
        ([*_LB, "convert", "divide"], "-2", "must be greater than 0"),
        ([*_LB, "convert", "multiply"], "2", "unexpected key"),
        ([*_LB, "convert", "to"], "stone", "'stone' is not a unit of weight"),
        ([*_LB, "convert", "to"], "oz", "go round in a circle"),
        ([*_LB, "convert"], _DELETE, "missing `convert`"),
        ([*_LB, "label", "ar"], _DELETE, "missing label"),
        ([*_LB, "label", "fr"], "lb", "unknown language"),
        ([*_LB, "words", "en"], ["kg"], "'kg' is also a word for 'kg'"),
        ([*_LB, "words", "en"], [True], "must be a non-empty string"),
        ([*_LB, "words", "en"], [], "non-empty list"),
        ([*_LB, "words", "xx"], ["lb"], "unknown language"),
        ([*_LB, "words"], _DELETE, "missing key 'words'"),
        (["quantities", "weight", "units", "kg", "convert"], {"factor": "1"}, "canonical unit"),
        (["quantities", "weight", "canonical"], "stone", "is not one of its units"),
        (["quantities", "weight", "compounds"], [{"major": "lb", "minor": "kg"}], "whole"),
        (["quantities", "weight", "compounds"], [{"major": "st", "minor": "lb"}], "not a unit"),
        (
            ["quantities", "weight", "compounds"],
            [{"major": "lb", "minor": "oz", "bare_minor": "tenths"}],
            "bare_minor",
        ),
        (["quantities", "weight", "units"], {}, "no units"),
        (["languages"], ["zh-Hans"], "must include en"),
        (["quantities"], [], "must be a mapping"),
        (["extra"], 1, "unexpected key"),
    ],
)
def test_units_file_mistakes_are_named(path: list[str], value: object, message: str) -> None:
    with pytest.raises(DataError) as excinfo:
        parse_units(units_text(_break(path, value)), "bot/engine/units.yaml")
    text = str(excinfo.value)
    assert text.startswith("bot/engine/units.yaml: "), text
    assert message in text, text


def test_unit_ids_must_be_unique_across_quantities() -> None:
    data = small_units()
    quantities = data["quantities"]
    assert isinstance(quantities, dict)
    quantities["mass"] = {
        "canonical": "kg",
        "units": {"kg": {"label": labels("kg"), "words": {"en": ["kilo"]}}},
    }
    with pytest.raises(DataError, match="unit ids must be unique"):
        parse_units(units_text(data))


def test_units_file_that_is_not_yaml() -> None:
    with pytest.raises(DataError, match=r"^x\.yaml: not valid YAML"):
        parse_units("quantities: [unclosed", "x.yaml")
    with pytest.raises(DataError, match=r"^x\.yaml: top level: must be a mapping"):
        parse_units("- a list", "x.yaml")


def test_shipped_units_file() -> None:
    units = load_units()
    assert units is load_units()  # read once per process
    assert set(units.quantities) == {"age", "hba1c", "c_peptide", "height", "weight", "hemoglobin"}
    expected = {
        "age": {"years"},
        "hba1c": {"percent", "mmol_mol"},
        "c_peptide": {"nmol_l", "pmol_l", "ng_ml", "ug_l"},
        "height": {"cm", "m", "ft", "in"},
        "weight": {"kg", "jin", "lb", "tai_jin"},  # 台斤 for zh-Hant (issue 12)
        "hemoglobin": {"g_dl", "g_l", "mmol_l"},
    }
    for quantity, unit_ids in expected.items():
        assert set(units.quantities[quantity].units) == unit_ids
    assert units.source == "bot/engine/units.yaml"


# ---------------------------------------------------------------------------
# lexicon.yaml


def small_lexicon() -> dict[str, object]:
    options = {
        option: {lang: [f"{option}-{lang}"] for lang in LANGS} for option in REQUIRED_OPTIONS
    }
    return {
        "languages": list(LANGS),
        "fallback": {lang: ([] if lang == "en" else ["en"]) for lang in LANGS},
        "options": options,
        "hedges": {"en": ["about"]},
        "less_than": {"en": ["<"]},
        "joiners": {"en": ["and"]},
    }


def lexicon_text(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True)


def test_small_lexicon_is_valid() -> None:
    lex = parse_lexicon(lexicon_text(small_lexicon()), "test-lexicon.yaml")
    assert lex.words("yes", "ru") == {"yes-ru"}
    assert lex.chain("ru") == ("ru", "en")
    assert lex.chain("fr") == ("en",)


def test_yaml_booleans_are_caught() -> None:
    # An unquoted yes in a word list is read by PyYAML as True; the loader says so.
    raw = "languages: [en]\nfallback: {en: []}\noptions:\n"
    for option in ("unknown", "female", "male", "type1", "type2"):
        raw += f"  {option}: {{en: [x{option}]}}\n"
    raw += '  "no": {en: ["no"]}\n'
    raw += "  pancreatectomy: {en: [p]}\n  gestational: {en: [g]}\n  other: {en: [o]}\n"
    raw += '  "yes": {en: [yes, y]}\nhedges: {}\nless_than: {}\njoiners: {}\n'
    with pytest.raises(DataError, match=r"options\.yes\.en\[0\]: must be a string, got True"):
        parse_lexicon(raw, "lexicon.yaml")
    with pytest.raises(DataError, match=r"options: key False must be a string \(quote it\)"):
        parse_lexicon(raw.replace('"no":', "no:"), "lexicon.yaml")


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        ("options", lambda o: o.pop("male"), "missing option(s) male"),
        ("options", lambda o: o["no"].pop("ar"), "no words for ar"),
        ("options", lambda o: o["no"].update(en=["yes-en"]), "'yes-en' is also a word for"),
        ("options", lambda o: o["no"].update(en=[]), "non-empty list"),
        ("options", lambda o: o["no"].update(en=["   "]), "empty after normalisation"),
        ("options", lambda o: o["no"].update(fr=["non"]), "unknown language"),
        ("fallback", lambda f: f.update(ru=["fr"]), "is not another language"),
        ("fallback", lambda f: f.update(ru=["ru"]), "is not another language"),
        ("fallback", lambda f: f.pop("ar"), "fallback.ar"),
        ("hedges", lambda h: h.update(en="about"), "non-empty list"),
    ],
)
def test_lexicon_mistakes_are_named(key: str, change: object, message: str) -> None:
    data = small_lexicon()
    assert callable(change)
    change(data[key])
    with pytest.raises(DataError) as excinfo:
        parse_lexicon(lexicon_text(data), "bot/engine/lexicon.yaml")
    text = str(excinfo.value)
    assert text.startswith("bot/engine/lexicon.yaml: "), text
    assert message in text, text


def test_lexicon_missing_section() -> None:
    data = small_lexicon()
    del data["joiners"]
    with pytest.raises(DataError, match="missing key 'joiners'"):
        parse_lexicon(lexicon_text(data))


def test_shipped_lexicon() -> None:
    lex = load_lexicon()
    assert lex is load_lexicon()
    assert lex.languages == tuple(LANGS)
    assert lex.source == "bot/engine/lexicon.yaml"
    for lang in LANGS:
        assert lex.chain(lang)[-1] == "en"
    # the brief's minimum words
    required = {
        ("en", "yes"): ["yes", "y", "yeah", "yep"],
        ("en", "no"): ["no", "n", "nope"],
        ("en", "unknown"): ["i don't know", "dont know", "not sure", "idk"],
        ("zh-Hans", "yes"): ["是", "是的", "对", "有"],
        ("zh-Hans", "no"): ["否", "不是", "没有", "不"],
        ("zh-Hans", "unknown"): ["不知道", "不清楚", "不确定"],
        ("zh-Hant", "yes"): ["是", "是的", "對", "有"],
        ("zh-Hant", "no"): ["否", "不是", "沒有", "不"],
        ("zh-Hant", "unknown"): ["不知道", "不清楚", "不確定"],
        ("es", "yes"): ["sí", "si"],
        ("es", "no"): ["no"],
        ("es", "unknown"): ["no sé", "no se", "no lo sé", "no estoy seguro"],
        ("ru", "yes"): ["да"],
        ("ru", "no"): ["нет"],
        ("ru", "unknown"): ["не знаю", "не уверен", "незнаю"],
        ("ar", "yes"): ["نعم"],
        ("ar", "no"): ["لا"],
        ("ar", "unknown"): ["لا أعرف", "لا اعرف", "لست متأكدا"],
    }
    for (lang, option), words in required.items():
        for word in words:
            assert clean(word) in lex.words(option, lang), (lang, option, word)
    for word in ("about", "左右", "примерно", "unos", "حوالي", "大约", "约", "около"):
        assert any(fold(word) in group for group in lex.hedges.values()), word
    for word in ("<", "＜", "低于", "менее", "menos de", "أقل من"):
        assert any(fold(word) in group for group in lex.less_than.values()), word


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("１７６ｃｍ", "176cm"),
        ("٧٫٥", "7.5"),
        ("۷۲", "72"),
        ("µg/L", "ug/l"),
        ("μg/L", "ug/l"),
        ("5′6″", "5'6\""),
        ("5’6”", "5'6\""),
        ("5'6''", "5'6\""),
        ("Ёлка", "елка"),
        ("أنثى", "انثي"),
        ("لست متأكداً", "لست متاكدا"),
        ("\u200fنعم\u200f", "نعم"),
        ("  A   b\tC ", "a b c"),
        ("7–8", "7-8"),
        ("−5", "-5"),
    ],
)
def test_fold(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_clean_strips_answer_punctuation() -> None:
    assert clean("¿No sé?") == "no sé"
    assert clean("是。") == "是"
    assert clean('"Yes!"') == "yes"
    assert clean("...") == ""


def test_word_helpers() -> None:
    assert is_word("Да!", "yes", "ru")
    assert is_word("yes", "yes", "ru")  # English fallback
    assert not is_word("да", "yes", "en")
    assert is_word("沒有", "no", "zh-Hans")  # the other Chinese script
    assert is_unknown_word("No lo sé.")
    assert not is_unknown_word("no")
    assert not is_unknown_word("   ")
