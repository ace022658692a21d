"""The understanding pipeline: what typed answers say, and how sure the bot may be."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot.engine import answers
from bot.engine.answers import Measured, MeasureSpec
from bot.engine.flow import Flow, load_flow
from bot.engine.lexicon import DataError, load_lexicon
from bot.engine.understanding import Reading, read_choice, read_measurement
from bot.engine.understanding.data import LANGUAGES, load_words, parse_words

ROOT = Path(__file__).parent.parent
FLOW = load_flow(ROOT / "flows" / "nct06751199.yaml")
EXAMPLES = ROOT / "tests" / "data" / "examples"
YES_NO = [("yes", "Yes"), ("no", "No"), ("unknown", "I don't know")]
SEX = [("female", "Female"), ("male", "Male")]


def spec(qid: str, flow: Flow = FLOW) -> MeasureSpec:
    measure = flow.question(qid).measure
    assert measure is not None
    return measure


def options(qid: str) -> list[tuple[str, str]]:
    return [(o.id, o.label) for o in FLOW.question(qid).options]


# ---------------------------------------------------------------------------
# The libraries, checked before relying on them


def test_cn2an_reads_chinese_numerals() -> None:
    import cn2an

    assert cn2an.cn2an("四十五", "smart") == 45
    assert cn2an.transform("一百三十斤", "cn2an") == "130斤"
    assert cn2an.transform("百分之八点一", "cn2an") == "8.1%"


def test_number_parser_reads_english_spanish_and_russian_words() -> None:
    from number_parser import parse

    assert parse("forty-five", language="en") == "45"
    assert parse("cuarenta y cinco", language="es") == "45"
    assert parse("мне сорок пять лет", language="ru") == "мне 45 лет"


def test_pyarabic_reads_arabic_number_words() -> None:
    from pyarabic import number

    assert number.text2number("خمسة وأربعون") == 45
    assert number.detect_number_phrases_position(["عمري", "خمسة", "وأربعون"]) == [(1, 2)]


def test_rapidfuzz_counts_a_swap_as_one_typo() -> None:
    from rapidfuzz.distance import OSA

    assert OSA.distance("yse", "yes") == 1
    assert OSA.distance("nope", "yes") > 1


def test_emoji_finds_thumbs_with_skin_tones() -> None:
    import emoji

    assert [e["emoji"] for e in emoji.emoji_list("ok 👍🏽")] == ["👍🏽"]
    assert emoji.replace_emoji("yes 😊", "").strip() == "yes"


# ---------------------------------------------------------------------------
# The data


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_its_words(lang: str) -> None:
    words = load_words(lang)
    for name in ("yes", "no", "negators", "unknown", "fillers"):
        assert words.get(name), f"{lang}: no {name}"
    assert words.hedges
    assert all(words.bounds[b] for b in ("lt", "gt"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('"yes": [da]\n"no": [da]', "both a yes word and a no word"),
        ('"yes": [da]\nhedges: {da: null}', "both a hedge and a sure answer"),
        ("hedges: {maybe: perhaps}", "must be yes, no or null"),
        ("colours: [red]", "unexpected key"),
        ('"yes": [1]', "non-empty strings"),
    ],
)
def test_bad_word_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        parse_words(text, "xx", "xx.yaml")


# ---------------------------------------------------------------------------
# Choices


@pytest.mark.parametrize(
    ("lang", "text", "option"),
    [
        ("en", "No, never", "no"),
        ("en", "no I haven't", "no"),
        ("en", "Yes, twice last year", "yes"),
        ("en", "yes I do", "yes"),
        ("en", "Yes I agree", "yes"),
        ("en", "yess", "yes"),
        ("en", "noo", "no"),
        ("en", "of course not", "no"),
        ("ru", "нет, никогда", "no"),
        ("ru", "да, было", "yes"),
        ("ru", "нет нет", "no"),
        ("ru", "даа", "yes"),
        ("ru", "нет, конечно", "no"),
        ("ru", "да нет", "no"),
        ("es", "no, nunca", "no"),
        ("es", "sí, dos veces", "yes"),
        ("es", "síii", "yes"),
        ("es", "No, ya no", "no"),
        ("ar", "لا، أبدا", "no"),
        ("ar", "نعم، لدي", "yes"),
        ("ar", "نعمم", "yes"),
        ("ar", "ما عندي", "no"),
        ("ar", "مافي", "no"),
        ("ar", "لا ما", "no"),
        ("ar", "إي", "yes"),
        ("ar", "أيوه", "yes"),
        ("zh-Hans", "没有过", "no"),
        ("zh-Hans", "有过两次", "yes"),
        ("zh-Hans", "去年有两次", "yes"),
        ("zh-Hans", "没有没有", "no"),
        ("zh-Hans", "不用了，谢谢", "no"),
        ("zh-Hant", "沒有喔", "no"),
        ("zh-Hant", "係", "yes"),
        ("zh-Hant", "冇", "no"),
        ("zh-Hant", "唔係", "no"),
    ],
)
def test_clear_yes_and_no_are_understood(lang: str, text: str, option: str) -> None:
    assert read_choice(text, YES_NO, lang) == Reading("understood", option=option)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "I can't remember"),
        ("en", "never been tested"),
        ("en", "no idea"),
        ("zh-Hans", "不记得了"),
        ("zh-Hans", "不太记得"),
        ("zh-Hant", "唔知"),
        ("ru", "не помню точно"),
        ("es", "no me acuerdo"),
        ("es", "no se"),
        ("ar", "مش متأكد"),
    ],
)
def test_i_dont_know_in_its_everyday_forms(lang: str, text: str) -> None:
    assert read_choice(text, YES_NO, lang) == Reading("understood", option="unknown")


@pytest.mark.parametrize(
    ("lang", "text", "option", "problem"),
    [
        ("en", "I think so", "yes", "hedge"),
        ("en", "probably not", "no", "hedge"),
        ("en", "not that I know of", "no", "hedge"),
        ("zh-Hans", "好像有", "yes", "hedge"),
        ("zh-Hans", "应该没有", "no", "hedge"),
        ("ru", "вроде нет", "no", "hedge"),
        ("es", "creo que sí", "yes", "hedge"),
        ("en", "👍", "yes", "emoji"),
        ("en", "👎🏽", "no", "emoji"),
        ("en", "yse", "yes", "typo"),
    ],
)
def test_hedges_emoji_and_typos_are_offered_never_taken(
    lang: str, text: str, option: str, problem: str
) -> None:
    assert read_choice(text, YES_NO, lang) == Reading("confirm", option=option, problem=problem)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "no, but I had one last year"),
        ("en", "yes and no"),
        ("en", "maybe"),
        ("en", "what do you mean"),
        ("en", "my brother has it"),
        ("en", "I have a cold"),
        ("es", "mi mamá sí"),
        ("ru", "у мамы есть"),
        ("zh-Hans", "有没有"),
        ("zh-Hans", "我妈妈有"),
        ("zh-Hant", "有冇"),
        ("en", "🎉"),
        ("en", ""),
    ],
)
def test_contradictions_and_other_subjects_are_asked_again(lang: str, text: str) -> None:
    assert read_choice(text, YES_NO, lang).status == "unclear"


@pytest.mark.parametrize(
    ("qid", "lang", "text", "option"),
    [
        ("sex", "en", "I'm a woman", "female"),
        ("sex", "zh-Hans", "我是男的", "male"),
        ("sex", "es", "soy mujer", "female"),
        ("sex", "ar", "انا رجل", "male"),
        ("diabetes_type", "en", "type 2, since 2010", "type2"),
        ("diabetes_type", "zh-Hans", "二型的", "type2"),
        ("diabetes_type", "en", "they took out my pancreas", "pancreatectomy"),
        ("diabetes_type", "en", "not sure", "unknown"),
    ],
)
def test_other_choices_are_read_from_everyday_words(
    qid: str, lang: str, text: str, option: str
) -> None:
    assert read_choice(text, options(qid), lang) == Reading("understood", option=option)


@pytest.mark.parametrize(
    ("qid", "lang", "text"),
    [
        ("diabetes_type", "en", "type 1 or 2"),
        ("diabetes_type", "en", "type 1.5"),
        ("diabetes_type", "en", "not type 1"),
        ("sex", "es", "M"),
    ],
)
def test_other_choices_never_guess(qid: str, lang: str, text: str) -> None:
    assert read_choice(text, options(qid), lang).status == "unclear"


def test_a_yes_inside_a_chinese_sentence_is_not_an_answer() -> None:
    assert read_choice("我是男的", YES_NO, "zh-Hans").status == "unclear"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_word_understood_before_is_still_understood(lang: str) -> None:
    lex = load_lexicon()
    for question in FLOW.questions:
        if question.kind != "choice":
            continue
        labels = [(o.id, o.label) for o in question.options]
        for oid, _ in labels:
            for word in lex.words(oid, lang):
                before = answers.match_choice(word, labels, lang)
                if before is not None and not (lang == "es" and word == "m"):
                    assert read_choice(word, labels, lang).option == before, (question.id, word)


# ---------------------------------------------------------------------------
# Measurements


def value(reading: Reading) -> tuple[str, Decimal | None, str | None]:
    measured = reading.measured
    assert measured is not None
    return reading.status, measured.value, measured.bound


@pytest.mark.parametrize(
    ("qid", "lang", "text", "expected"),
    [
        ("age", "en", "I'm 45", "45"),
        ("height", "en", "I am 170 cm tall", "170"),
        ("hba1c", "en", "my A1c was 8.1", "8.1"),
        ("age", "ru", "мне 45", "45"),
        ("height", "ru", "рост 180", "180"),
        ("weight", "ru", "вешу 65 кг", "65"),
        ("age", "es", "tengo 45 años", "45"),
        ("height", "es", "mido 1,70", "170"),
        ("age", "ar", "عمري ٤٥", "45"),
        ("weight", "ar", "وزني ٦٥ كيلو", "65"),
        ("age", "zh-Hans", "我45岁", "45"),
        ("age", "zh-Hans", "今年45", "45"),
        ("height", "zh-Hans", "身高170", "170"),
        ("weight", "zh-Hans", "体重65公斤", "65"),
        ("hba1c", "zh-Hans", "糖化8.1", "8.1"),
        ("age", "en", "forty-five", "45"),
        ("weight", "en", "sixty-five kilos", "65"),
        ("age", "es", "cuarenta y cinco", "45"),
        ("age", "ru", "сорок пять", "45"),
        ("age", "ar", "خمسة وأربعون", "45"),
        ("age", "zh-Hans", "四十五岁", "45"),
        ("weight", "zh-Hans", "一百三十斤", "65"),
        ("hba1c", "zh-Hans", "百分之八点一", "8.1"),
        ("hba1c", "zh-Hans", "八点五", "8.5"),
        ("weight", "zh-Hans", "六十五公斤", "65"),
        ("height", "ru", "метр восемьдесят", "180"),
        ("weight", "zh-Hant", "130台斤", "78"),
        ("weight", "zh-Hant", "130市斤", "65"),
    ],
)
def test_lead_ins_and_number_words(qid: str, lang: str, text: str, expected: str) -> None:
    assert value(read_measurement(text, spec(qid), lang)) == ("understood", Decimal(expected), None)


@pytest.mark.parametrize(
    ("qid", "lang", "text", "expected", "bound"),
    [
        ("c_peptide_fasting", "en", "<0.1 nmol/L", "0.1", "lt"),
        ("c_peptide_fasting", "en", "less than 0.1 nmol/L", "0.1", "lt"),
        ("c_peptide_fasting", "ru", "менее 0,1 нмоль/л", "0.1", "lt"),
        ("c_peptide_fasting", "zh-Hans", "低于0.1 nmol/L", "0.1", "lt"),
        ("c_peptide_fasting", "ar", "أقل من ٠٫١ nmol/L", "0.1", "lt"),
        ("c_peptide_fasting", "en", "≤0.1 nmol/L", "0.1", "le"),
        ("hba1c", "en", ">7 %", "7", "gt"),
        ("hba1c", "es", "más de 7%", "7", "gt"),
    ],
)
def test_values_written_as_bounds(
    qid: str, lang: str, text: str, expected: str, bound: str
) -> None:
    assert value(read_measurement(text, spec(qid), lang)) == (
        "understood",
        Decimal(expected),
        bound,
    )


def test_a_bound_without_a_unit_keeps_its_bound_while_the_unit_is_asked() -> None:
    reading = read_measurement("<0.01", spec("c_peptide_fasting"), "en")
    assert reading.measured == Measured(
        "need_unit", number=Decimal("0.01"), choices=("nmol_l", "ng_ml", "pmol_l"), bound="lt"
    )
    forced = read_measurement("<0.01", spec("c_peptide_fasting"), "en", forced_unit="nmol_l")
    assert value(forced) == ("understood", Decimal("0.01"), "lt")


def test_jin_in_traditional_chinese_asks_which_jin() -> None:
    reading = read_measurement("一百三十斤", spec("weight"), "zh-Hant")
    assert reading.status == "unclear"
    assert reading.measured == Measured(
        "need_unit", number=Decimal("130"), choices=("tai_jin", "jin")
    )
    chosen = read_measurement("一百三十斤", spec("weight"), "zh-Hant", forced_unit="tai_jin")
    assert value(chosen) == ("understood", Decimal("78"), None)
    assert value(read_measurement("130斤", spec("weight"), "zh-Hans")) == (
        "understood",
        Decimal("65"),
        None,
    )


def test_unknown_units_are_named_back() -> None:
    reading = read_measurement("0.5 nanomol", spec("c_peptide_fasting"), "en")
    assert (reading.status, reading.problem, reading.detail) == (
        "unclear",
        "unknown_unit",
        "nanomol",
    )


@pytest.mark.parametrize(
    ("qid", "text", "status"),
    [
        ("age", "45 or 46", "several"),
        ("age", "I'm 45, diagnosed at 30", "several"),
        ("age", "71 this year", "invalid"),
        ("weight", "130", "need_unit"),
    ],
)
def test_measurements_never_guess(qid: str, text: str, status: str) -> None:
    reading = read_measurement(text, spec(qid), "en")
    assert reading.status == "unclear"
    assert reading.measured is not None and reading.measured.status == status


def test_a_hedged_number_is_offered_with_its_value() -> None:
    reading = read_measurement("I think 65 kg", spec("weight"), "en")
    assert reading.status == "confirm"
    assert reading.measured == Measured("ok", value=Decimal("65"), number=Decimal("65"), unit="kg")


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "never been tested"), ("zh-Hans", "不记得了"), ("ru", "не сдавала"), ("es", "no sé")],
)
def test_measurements_i_dont_know(lang: str, text: str) -> None:
    reading = read_measurement(text, spec("hba1c"), lang)
    assert reading == Reading("understood", measured=Measured("unknown"))


def _example_measurements() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(EXAMPLES.glob("example-*.json")):
        profile = json.loads(path.read_text(encoding="utf-8"))
        for qid, text in profile["answers"].items():
            if FLOW.has_question(qid) and FLOW.question(qid).kind == "measurement":
                found.append((profile["language"], qid, text))
    return found


@pytest.mark.parametrize(("lang", "qid", "text"), _example_measurements())
def test_every_measurement_read_before_is_read_the_same(lang: str, qid: str, text: str) -> None:
    before = answers.parse_measurement(text, spec(qid), lang)
    reading = read_measurement(text, spec(qid), lang)
    if before.status in ("ok", "unknown"):
        assert reading == Reading("understood", measured=before)
    else:
        assert reading.status == "unclear" and reading.measured == before


# ---------------------------------------------------------------------------
# The question as the patient read it


def asked(qid: str, lang: str) -> tuple[list[tuple[str, str]], str]:
    from bot.i18n.catalogs import get_catalogs

    t = get_catalogs().get(lang)
    question = FLOW.question(qid)
    labels = [(o.id, t.pgettext("option", o.label)) for o in question.options]
    return labels, t.pgettext(qid, question.text)


@pytest.mark.parametrize(
    ("qid", "lang", "text", "status", "option"),
    [
        ("hiv", "en", "I don't have HIV", "understood", "no"),
        ("hiv", "en", "I don't have hepatitis", "unclear", None),
        ("hepatitis", "zh-Hans", "有乙肝", "understood", "yes"),
        ("hiv", "zh-Hans", "我有乙肝", "unclear", None),
        ("pregnant", "zh-Hans", "怀孕了", "understood", "yes"),
        ("dka_uncontrolled", "zh-Hans", "以前有过，现在好了", "understood", "no"),
        ("hepatitis", "zh-Hans", "以前有过，现在好了", "unclear", None),
        ("dka_uncontrolled", "ar", "كان عندي من قبل وهلأ تمام", "understood", "no"),
        ("tumor", "zh-Hans", "医生说可能有", "understood", "yes"),
        ("tumor", "zh-Hans", "有个结节，说是良性的", "unclear", None),
        ("mental_illness", "zh-Hans", "有时候睡不着，算吗", "unclear", None),
        ("pregnant", "ar", "لست حاملا", "understood", "no"),
    ],
)
def test_the_question_explains_its_own_words(
    qid: str, lang: str, text: str, status: str, option: str | None
) -> None:
    labels, question = asked(qid, lang)
    reading = read_choice(text, labels, lang, question=question)
    assert (reading.status, reading.option) == (status, option)


# ---------------------------------------------------------------------------
# Issue #12, last gaps: hedged ages, typos of option words, a question's subjects


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "about 50"),
        ("ru", "примерно 50"),
        ("es", "unos 50"),
        ("zh-Hans", "50岁左右"),
        ("ar", "تقريبا خمسين"),
    ],
)
def test_a_hedged_age_is_that_age(lang: str, text: str) -> None:
    assert value(read_measurement(text, spec("age"), lang)) == ("understood", Decimal(50), None)


@pytest.mark.parametrize(
    ("text", "option"),
    [("вторго типа", "type2"), ("первго типа", "type1"), ("вторго", "type2")],
)
def test_a_typo_of_an_everyday_option_word_is_offered_never_taken(text: str, option: str) -> None:
    labels, question = asked("diabetes_type", "ru")
    assert read_choice(text, labels, "ru", question=question) == Reading(
        "confirm", option=option, problem="typo"
    )


@pytest.mark.parametrize(
    ("qid", "lang", "text", "status", "option"),
    [
        ("diabetes_organ_complications", "ar", "الكلى تعبانة", "understood", "yes"),
        ("diabetes_organ_complications", "ar", "الكلى مش تعبانة", "understood", "no"),
        ("diabetes_organ_complications", "ar", "الكلى سليمة", "unclear", None),
        ("diabetes_organ_complications", "ar", "تعبانة", "unclear", None),
        ("frequent_hypoglycemia", "ar", "دايماً ينزل السكر", "understood", "yes"),
        ("frequent_hypoglycemia", "ar", "ينزل السكر احيانا", "unclear", None),
        ("hepatitis", "ar", "حامل لفيروس بي", "understood", "yes"),
        ("hiv", "ar", "حامل لفيروس بي", "unclear", None),
        ("diabetes_organ_complications", "ru", "есть ретинопатия", "understood", "yes"),
        ("diabetes_organ_complications", "ru", "нет ретинопатии", "understood", "no"),
        ("diabetes_organ_complications", "ru", "ретинопатия у мамы", "unclear", None),
        ("hiv", "ru", "есть ретинопатия", "unclear", None),
        ("severe_hypoglycemia_12m", "zh-Hant", "去年有一次暈倒", "understood", "yes"),
        ("severe_hypoglycemia_12m", "zh-Hant", "媽媽有暈倒", "unclear", None),
        ("severe_hypoglycemia_12m", "zh-Hant", "五年前有一次暈倒", "unclear", None),
        ("mental_illness", "zh-Hant", "有憂鬱症，吃藥也沒用", "understood", "yes"),
        ("mental_illness", "zh-Hans", "有抑郁症", "understood", "yes"),
        ("mental_illness", "zh-Hant", "以前有憂鬱症，現在好了", "unclear", None),
        ("hiv", "zh-Hant", "有憂鬱症", "unclear", None),
    ],
)
def test_the_patients_words_for_what_the_question_names(
    qid: str, lang: str, text: str, status: str, option: str | None
) -> None:
    labels, question = asked(qid, lang)
    reading = read_choice(text, labels, lang, question=question)
    assert (reading.status, reading.option) == (status, option)


@pytest.mark.parametrize(
    ("text", "status", "option"),
    [("啥是酮症酸中毒？不懂", "understood", "unknown"), ("什么是酮症酸中毒？", "unclear", None)],
)
def test_asking_what_the_question_means_is_not_a_yes(
    text: str, status: str, option: str | None
) -> None:
    labels, question = asked("dka_uncontrolled", "zh-Hans")
    reading = read_choice(text, labels, "zh-Hans", question=question)
    assert (reading.status, reading.option) == (status, option)


def test_subjects_in_word_files_must_be_lists() -> None:
    with pytest.raises(DataError):
        parse_words("subjects:\n  глаза: ретинопатия\n", "ru", "test")
