"""Question and option ids name engine states and travel in buttons: the loader refuses
ids that clash with the engine's own steps or cannot be carried, naming file and step."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from bot.engine import engine as engine_module
from bot.engine.errors import FlowError
from bot.engine.flow import flow_path, load_flow, parse_flow
from bot.engine.flow_ids import MAX_QUESTION_ID, RESERVED_STEPS
from bot.engine.machine import CONTACT_STEPS, FlowMachine
from tests.conftest import DATA


def _second() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA / "second_trial.yaml").read_text("utf-8"))
    return data


def _renamed(qid: str) -> FlowError:
    """Rename the second trial's question ``smoker`` (and what names it) to ``qid``."""
    text = (DATA / "second_trial.yaml").read_text("utf-8")
    data = yaml.safe_load(text.replace("smoker", qid).replace(f"non_{qid}", "non_smoker"))
    with pytest.raises(FlowError) as caught:
        parse_flow(data, "flows/second_trial.yaml")
    return caught.value


@pytest.mark.parametrize("qid", ["done", "consent", "share", "alerts", "phone", "language"])
def test_an_engine_step_is_refused_as_a_question_id(qid: str) -> None:
    error = str(_renamed(qid))
    assert error.startswith("flows/second_trial.yaml: question ")
    assert f"{qid!r}" in error and "step of the engine" in error


@pytest.mark.parametrize("qid", ["a|b", "confirm:x", "x#check", "Smoker", "1st", "a b", "héight"])
def test_a_question_id_that_cannot_travel_in_a_button_is_refused(qid: str) -> None:
    error = str(_renamed(qid))
    assert "flows/second_trial.yaml" in error and "question " in error
    assert "lower-case letters, digits and '_'" in error


def test_a_sixty_character_question_id_is_refused() -> None:
    qid = "s" * 60
    error = str(_renamed(qid))
    assert f"question {qid!r}" in error and f"at most {MAX_QUESTION_ID} characters" in error


def test_the_longest_allowed_id_loads_and_its_buttons_fit() -> None:
    qid = "s" * MAX_QUESTION_ID
    text = (DATA / "second_trial.yaml").read_text("utf-8")
    flow = parse_flow(yaml.safe_load(text.replace("smoker", qid).replace(f"non_{qid}", "x")))
    for option in flow.question(qid).options:
        assert len(f"a|{qid}|{option.id}".encode()) <= 64


@pytest.mark.parametrize("oid", ["a|b", "x" * 25, "yes no"])
def test_a_bad_option_id_is_refused_with_its_question(oid: str) -> None:
    data = copy.deepcopy(_second())
    data["questions"][2]["options"][0]["id"] = oid
    with pytest.raises(FlowError) as caught:
        parse_flow(data, "flows/second_trial.yaml")
    assert "question 'bp_pills'" in str(caught.value) and repr(oid) in str(caught.value)


def test_a_derived_value_may_not_reuse_a_question_id() -> None:
    data = copy.deepcopy(_second())
    data["derived"][0]["id"] = "smoker"
    with pytest.raises(FlowError) as caught:
        parse_flow(data, "flows/second_trial.yaml")
    assert "derived 'smoker'" in str(caught.value)


def test_a_derived_value_needs_measurements_in_the_formula_units() -> None:
    data = copy.deepcopy(_second())
    data["derived"][0]["from"] = {"kg": "body_height", "cm": "body_weight"}
    with pytest.raises(FlowError) as caught:
        parse_flow(data, "flows/second_trial.yaml")
    assert "derived 'body_mass'" in str(caught.value) and "not kept in kg" in str(caught.value)


def test_the_reserved_steps_are_every_step_the_engine_names_itself() -> None:
    """Every machine state that is not a question, and the engine's menu steps."""
    for flow in (load_flow(flow_path("nct06751199")), load_flow(DATA / "second_trial.yaml")):
        machine = FlowMachine(flow)
        questions = {q.id for q in flow.questions}
        own = {
            s for s in machine.machine.states if s not in questions and not s.startswith("confirm:")
        }
        assert own <= RESERVED_STEPS, own - RESERVED_STEPS
    assert set(CONTACT_STEPS) <= RESERVED_STEPS
    assert {engine_module.LANGUAGE_STEP, engine_module.DELETE_STEP} <= RESERVED_STEPS
