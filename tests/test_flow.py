"""Flows are data: the real flow loads, a new trial is a new file, broken flows fail clearly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.engine.engine import Engine
from bot.engine.errors import FlowError
from bot.engine.events import Event
from bot.engine.flow import flow_path, load_flow, parse_flow
from bot.i18n.extract import extract_flow
from tests.conftest import DATA
from tests.spec_reference import CRITERIA as SPEC_CRITERIA

SPEC_FACTS = {
    "diabetes_diagnosed",
    "age",
    "sex",
    "diabetes_type",
    "frequent_hypoglycemia",
    "severe_hypoglycemia_12m",
    "diabetes_organ_complications",
    "hba1c",
    "c_peptide_fasting",
    "c_peptide_2h",
    "height",
    "weight",
    "hemoglobin",
    "dka_uncontrolled",
    "severe_allergies",
    "hiv",
    "hepatitis",
    "uncontrolled_infection",
    "acute_pancreatitis_history",
    "thrombosis_history",
    "severe_organ_disease",
    "pregnant",
    "pregnancy_planned",
    "breastfeeding",
    "mental_illness",
    "substance_abuse",
    "tumor",
    "other_autoimmune",
    "blood_disorder",
    "willing_to_consent",
}


def raw_flow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(flow_path("nct06751199").read_text(encoding="utf-8"))
    return data


def test_the_flow_asks_every_fact_of_the_spec_first_and_last_in_place() -> None:
    flow = load_flow(flow_path("nct06751199"))
    ids = [q.id for q in flow.questions]
    assert set(ids) == SPEC_FACTS
    assert ids[0] == "diabetes_diagnosed" and ids[-1] == "willing_to_consent"
    assert [c.id for c in flow.criteria] == SPEC_CRITERIA
    for question in flow.questions:
        if question.kind == "choice" and "yes" in question.option_ids:
            assert question.option_ids == {"yes", "no", "unknown"}


def test_a_second_trial_is_only_a_new_file() -> None:
    engine = Engine(load_flow(DATA / "second_trial.yaml"))
    conv = engine.new("en")
    engine.handle(conv, Event.start())
    engine.handle(conv, Event.tap("consent", "agree"))
    engine.handle(conv, Event.tap("adult", "yes"))
    engine.handle(conv, Event.tap("smoker", "unknown"))
    assert conv.state == "share"  # needs_review goes to the study team, with consent
    assert conv.outcome is not None
    assert conv.outcome["outcome"] == "needs_review"
    assert conv.outcome["protocol"] == "DEMO-2 v3"
    assert conv.outcome["unknown"] == ["non_smoker"]


def _broken(mutate: Any) -> FlowError:
    data = copy.deepcopy(raw_flow())
    mutate(data)
    with pytest.raises(FlowError) as caught:
        parse_flow(data, "flows/broken.yaml")
    return caught.value


def _question(data: dict[str, Any], qid: str) -> dict[str, Any]:
    return next(q for q in data["questions"] if q["id"] == qid)


def _criterion(data: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in data["criteria"] if c["id"] == cid)


@pytest.mark.parametrize(
    ("mutate", "where", "problem"),
    [
        (
            lambda d: _criterion(d, "dka").update(rule={"eval": "os.system('x')"}),
            "criterion 'dka'",
            "unknown predicate 'eval'",
        ),
        (
            lambda d: _criterion(d, "dka").update(rule={"none_yes": ["dka_controlled"]}),
            "criterion 'dka'",
            "unknown fact 'dka_controlled'",
        ),
        (
            lambda d: _criterion(d, "diagnosis").update(
                rule={"choice": {"fact": "diabetes_diagnosed", "pass": [True], "fail": ["no"]}}
            ),
            "criterion 'diagnosis'",
            "quote yes/no",
        ),
        (
            lambda d: _question(d, "pregnant").update(
                when={"fact": "breastfeeding", "in": ["yes"]}
            ),
            "question 'pregnant'",
            "not asked before it",
        ),
        (
            lambda d: _question(d, "sex").update(
                options=[{"id": "female", "label": "F"}, {"id": "female", "label": "F"}]
            ),
            "question 'sex'",
            "duplicate option ids",
        ),
        (
            lambda d: _question(d, "hba1c").update(units=["percent", "furlongs"]),
            "question 'hba1c'",
            "no unit 'furlongs'",
        ),
        (
            lambda d: _question(d, "hba1c").update(plausable={"min": 1}),
            "question 'hba1c'",
            "unknown key",
        ),
        (
            lambda d: d["questions"].append(dict(_question(d, "age"))),
            "question 'age'",
            "duplicate question id",
        ),
        (
            lambda d: _criterion(d, "age").update(rule={"between": {"fact": "age", "min": 18}}),
            "criterion 'age'",
            "missing ['max']",
        ),
        (
            lambda d: _criterion(d, "age").update(
                rule={"between": {"fact": "sex", "min": 1, "max": 2}}
            ),
            "criterion 'age'",
            "not a measurement",
        ),
        (lambda d: d.update(schema=2), "flow", "'schema' must be 1"),
    ],
)
def test_a_broken_flow_names_the_file_the_step_and_the_problem(
    mutate: Any, where: str, problem: str
) -> None:
    error = _broken(mutate)
    assert error.source == "flows/broken.yaml"
    assert error.where == where
    assert problem in error.problem
    assert str(error).startswith("flows/broken.yaml: " + where)


def test_unreadable_flow_file_is_a_flow_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions: [", encoding="utf-8")
    with pytest.raises(FlowError, match="not valid YAML"):
        load_flow(bad)
    with pytest.raises(FlowError, match="cannot read"):
        load_flow(tmp_path / "missing.yaml")


def test_graph_shows_every_question_and_the_branching(engine: Engine) -> None:
    from bot.engine.machine import FlowMachine

    text = FlowMachine(engine.flow).mermaid()
    assert text.startswith("stateDiagram-v2")
    for qid in SPEC_FACTS:
        assert qid in text
    assert "ask pregnant" in text and "a criterion fails" in text


def test_graph_as_graphviz_lists_every_transition(engine: Engine) -> None:
    from bot.engine.machine import FlowMachine

    machine = FlowMachine(engine.flow)
    text = machine.dot()
    assert text.startswith("digraph flow {") and text.count("->") == len(machine.edges())


def test_the_kept_view_follows_every_change_of_the_answers(engine: Engine) -> None:
    """The flow hands out its last view again only while the answer values are the same."""
    from bot.engine.record import Answer
    from bot.engine.rules import Verdict

    flow = engine.flow
    answers = {"diagnosis": Answer("t1d"), "age": Answer("45")}
    first = flow.view(answers)
    assert flow.view(dict(answers)) is first  # equal values, another dict: the same view
    assert flow.evaluate(first)["age"] is Verdict.PASS

    answers["age"] = Answer("12")  # changed in place: a new view, a new verdict
    second = flow.view(answers)
    assert second is not first
    assert flow.evaluate(second)["age"] is Verdict.FAIL
    assert flow.evaluate(first)["age"] is Verdict.PASS  # the old view kept its snapshot

    del answers["age"]
    assert flow.evaluate(flow.view(answers))["age"] is Verdict.PENDING
    assert flow.evaluate(flow.view({"diagnosis": Answer("t1d"), "age": Answer("45")})) == (
        flow.evaluate(first)
    )


def test_every_question_has_a_team_label_and_labels_are_extracted_without_context() -> None:
    for path in (flow_path("nct06751199"), DATA / "second_trial.yaml"):
        flow = load_flow(path)
        assert all(q.label for q in flow.questions), path
        with path.open("rb") as handle:
            plain = {m for _l, f, m, _c in extract_flow(handle, None, None, None) if f == "gettext"}
        assert {q.label for q in flow.questions} | {d.label for d in flow.derived} == plain
