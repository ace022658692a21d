"""What patients read: reasons they can follow, Arabic that reads right, an FAQ bound to
the trial listing."""

from __future__ import annotations

import pytest

from bot.engine import faq
from bot.engine.engine import Engine
from bot.i18n import LANGUAGES
from bot.i18n.catalogs import FSI, PDI
from bot.i18n.check import TELEGRAM_MAX_TEXT
from tests.conftest import Patient, with_answers


def confirm_text(engine: Engine, lang: str, **answers: str) -> str:
    """Return the early-stop message shown back for a deciding answer."""
    patient = Patient(engine, lang)
    patient.run(with_answers(**answers))
    assert patient.conv.state.startswith("confirm:"), patient.conv.state
    return patient.texts()


def test_the_bmi_reason_shows_the_bmi_worked_out_from_the_answers(engine: Engine) -> None:
    text = confirm_text(engine, "en", weight="110 kg")  # 110 / 1.65² = 40.4
    assert "your BMI is 40.4. The study is for people with a BMI from 14 to 35." in text
    ru = confirm_text(engine, "ru", weight="110 kg")
    assert "40,4" in ru  # in the patient's own way of writing numbers


def test_the_organ_reason_names_the_health_problems(engine: Engine) -> None:
    patient = Patient(engine)
    patient.run(with_answers(thrombosis_history="unknown"))
    while patient.conv.state.startswith("confirm:"):
        patient.tap("confirm")
    ending = engine.render.ending(patient.conv, "needs_review", [], ["thrombosis_or_organ_disease"])
    assert "blood clots and pancreatitis" in ending.text
    assert "other health problems" not in ending.text


def test_the_indication_reason_does_not_ask_for_low_blood_sugar(engine: Engine) -> None:
    reason = next(c for c in engine.flow.criteria if c.id == "indication")
    assert "You also need" not in reason.fail_text
    assert "could help you" not in reason.unknown_text


def test_arabic_counts_say_one_and_two_in_words(engine: Engine) -> None:
    t = engine.render.t(engine.new("ar"))
    one = t.ngettext("about {n} minute", "about {n} minutes", 1)
    two = t.ngettext("about {n} minute", "about {n} minutes", 2)
    assert one == "حوالي دقيقة واحدة" and two == "حوالي دقيقتين"
    conv = Patient(engine, "ar").conv
    needs = engine.render.ending(conv, "needs_review", [], ["bmi", "anemia"]).text
    assert "هناك أمران" in needs and "2" not in needs.split("\n")[2]
    single = engine.render.ending(conv, "needs_review", [], ["bmi"]).text
    assert "هناك أمر واحد" in single


def test_each_arabic_reason_is_its_own_isolate(engine: Engine) -> None:
    conv = Patient(engine, "ar").conv
    text = engine.render.ending(conv, "needs_review", [], ["bmi", "anemia", "tumor"]).text
    bullets = [line for line in text.splitlines() if "•" in line]
    assert len(bullets) == 3
    assert all(line.startswith(FSI) and line.endswith(PDI) for line in bullets)
    assert all(line.count(FSI) == line.count(PDI) for line in text.splitlines())


# ----------------------------------------------------------------------------- FAQ


def test_every_faq_answer_names_its_source() -> None:
    assert faq.ENTRIES
    assert {e.source for e in faq.ENTRIES} <= {faq.LISTING, faq.BOTH, faq.STUDY_TEAM}
    unanswered = [e for e in faq.ENTRIES if "does not say" in e.answer]
    assert unanswered and all(e.source != faq.LISTING for e in unanswered)


@pytest.mark.parametrize(
    "claim",
    [
        "make its own insulin again",
        "doctors check on you often",
        "new treatment early",
        "before others can get it",
        "might work",
    ],
)
def test_the_faq_claims_no_more_than_the_listing(engine: Engine, claim: str) -> None:
    text = engine.render.faq(engine.new("en")).text
    assert claim not in text


@pytest.mark.parametrize(("lang", "claim"), [("zh-Hans", "更早用上"), ("zh-Hant", "更早用上")])
def test_the_chinese_faq_promises_no_early_treatment(engine: Engine, lang: str, claim: str) -> None:
    assert claim not in engine.render.faq(engine.new(lang)).text


def test_the_faq_says_the_second_part_compares_with_and_without_stem_cells(
    engine: Engine,
) -> None:
    text = engine.render.faq(engine.new("en")).text
    # the listing: "compared ... to allogeneic islet transplantation alone";
    # "preservation of endogenous insulin production (measured as C-peptide)"
    assert "islet cells only" in text and "some of its own insulin (C-peptide)" in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_faq_fits_one_message_in_every_language(engine: Engine, lang: str) -> None:
    text = engine.render.faq(engine.new(lang)).text
    assert len(text) <= TELEGRAM_MAX_TEXT
    t = engine.render.t(engine.new(lang))
    assert text.count(t.gettext(faq.LISTING)) >= 3
    assert t.gettext(faq.STUDY_TEAM) in text
