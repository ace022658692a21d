"""How the bot says back what it read: values with units and bounds, readings to confirm,
and what went wrong with a typed answer.

Functions take a :class:`~bot.i18n.Translator`, so the patient's replies and the study
team's cards show values the same way ("<0.1 nmol/L", "65 kg (130 斤)").
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from babel.lists import format_list

from bot.engine.answers import Measured, MeasureSpec, canonical_unit, unit_label
from bot.engine.flow import Question
from bot.engine.record import Answer
from bot.engine.spans import SIGNS, split_value
from bot.engine.understanding import read_measurement
from bot.i18n import Translator


def unit_text(t: Translator, unit: str) -> str:
    """Return a unit's label in the translator's language ("kg", "斤", "г/л")."""
    return t.pgettext("unit", unit_label(unit, "en"))


def measured_text(t: Translator, number: Decimal, unit: str, bound: str | None = None) -> str:
    """Return a value with its unit and its bound's sign: "<0.1 nmol/L", "7,5 %" (ru)."""
    figure = SIGNS.get(bound or "", "") + t.number(number)
    label = unit_text(t, unit)
    return f"{figure}{label}" if label == "%" else f"{figure} {label}"


def value_text(t: Translator, question: Question, value: str) -> str:
    """Return a stored value as a patient or a coordinator reads it: a label or a measure."""
    for option in question.options:  # "I don't know" is an option where the question has it
        if option.id == value:
            return t.pgettext("option", option.label)
    split = split_value(value)
    if question.measure is None or split is None:
        return value
    bound, number = split
    return measured_text(t, number, canonical_unit(question.measure.quantity), bound)


def typed_reading(answer: Answer, spec: MeasureSpec, lang: str) -> Measured | None:
    """Return the number and unit the patient's words were read as (with the stored
    answer's bound), or None."""
    split = split_value(answer.value)
    if not answer.raw or not answer.unit or split is None:
        return None
    measured = read_measurement(answer.raw, spec, lang, forced_unit=answer.unit).measured
    if measured is None or measured.number is None or measured.unit != answer.unit:
        return None
    return replace(measured, bound=split[0])


def unit_assumed(answer: Answer, spec: MeasureSpec, lang: str) -> bool:
    """Return True when the patient's words name no unit and the unit was chosen for them
    (by the number's size, or by a tapped unit button) among several the question takes."""
    if len(spec.units) < 2 or not answer.raw or not answer.unit:
        return False
    measured = read_measurement(answer.raw, replace(spec, bare=()), lang).measured
    return measured is not None and measured.status == "need_unit"


def proposal_text(t: Translator, question: Question, answer: Answer, lang: str) -> str:
    """Return a reading offered to confirm: an option's label, or "65 kg (130 斤)"."""
    shown = value_text(t, question, answer.value)
    if question.measure is None:
        return shown
    typed = typed_reading(answer, question.measure, lang)
    if typed is None or typed.unit == canonical_unit(question.measure.quantity):
        return shown
    assert typed.number is not None and typed.unit is not None
    as_typed = measured_text(t, typed.number, typed.unit, typed.bound)
    # TRANSLATORS: a value in the question's own unit, then as the patient typed it: 65 kg (130 斤)
    return t.gettext("{value} ({typed})", value=shown, typed=as_typed)


def assumed_reading(t: Translator, question: Question, answer: Answer, lang: str) -> str:
    """Return "65 g/L = 6.5 g/dL" when a bare number was read in a unit the patient did not
    type, else ""."""
    spec = question.measure
    if spec is None or not unit_assumed(answer, spec, lang):
        return ""
    typed = typed_reading(answer, spec, lang)
    if typed is None:
        return ""
    assert typed.number is not None and typed.unit is not None
    read = measured_text(t, typed.number, typed.unit, typed.bound)
    if typed.unit == canonical_unit(spec.quantity):
        return read
    return f"{read} = {value_text(t, question, answer.value)}"


def words_read_as(t: Translator, question: Question, answer: Answer, lang: str) -> str:
    """Return the patient's words, with the unit they were read in when it was assumed."""
    reading = assumed_reading(t, question, answer, lang)
    if not reading:
        return answer.raw
    return t.gettext("{words}, which I read as {reading}", words=answer.raw, reading=reading)


# -- what went wrong ------------------------------------------------------------------------


def unknown_unit(t: Translator, question: Question, word: str) -> str:
    """Say which unit word was not recognised, and which units the question takes."""
    return t.gettext(
        'I did not recognise the unit "{unit}". You can use: {units}.',
        unit=word[:20],
        units=accepted_units(t, question),
    )


def choice_problem(t: Translator, problem: str) -> str:
    """Say why a typed answer to a choice question was not taken, or "" for no known reason."""
    if problem == "contradiction":
        return t.gettext(
            "Your answer seems to say two different things. "
            "Please tap the answer below that fits best."
        )
    if problem == "several":
        return t.gettext("Please choose only one answer.")
    if problem == "unknown_not_offered":
        return t.gettext(
            "This question needs one of the answers below. Please tap the one that fits best."
        )
    return ""


def accepted_units(t: Translator, question: Question) -> str:
    """Return the units a question takes, as "kg, 斤 or lb" in the translator's language."""
    if question.measure is None:
        return ""
    labels = [unit_text(t, u) for u in question.measure.units]
    return str(format_list(labels, style="or", locale=t.locale))
