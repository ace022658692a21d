"""A second trial through the whole product, with no code that names its facts: screening
in two languages through storage (each backend), the handoff card, the CSV, the funnel and
the replay; a referral shown with the flow version that decided it; an unfinished screening
of an older version started again kindly."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.channels.replay import run_profile
from bot.conversations import Conversations, Inbound
from bot.engine import flow as flow_module
from bot.engine.engine import Engine
from bot.engine.events import Event
from bot.engine.flow import load_flow
from bot.engine.flow_versions import kept_versions, load_flow_version
from bot.storage import Store
from bot.team.cards import TeamTexts
from bot.team.export import referrals_csv
from bot.team.screening import flow_for
from bot.team.stats import totals
from tests.conftest import DATA

SOURCE = DATA / "second_trial.yaml"


@pytest.fixture
def flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A flows/ folder holding the second trial, as it would be installed."""
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(SOURCE, folder / "second_trial.yaml")
    monkeypatch.setattr(flow_module, "FLOWS_DIR", folder)
    flow_for.cache_clear()
    yield folder
    flow_for.cache_clear()


async def screen(
    service: Conversations, user: int, lang: str, height: str, weight: str
) -> list[str]:
    """One person screened and referred through storage; return every text they read."""
    who = Inbound(f"tg:{user}", chat_id=user, lang_hint=lang, source="poster-2")
    events = [
        Event.start(),
        Event.tap("consent", "agree"),
        Event.tap("adult", "yes"),
        Event.tap("smoker", "no"),
        Event.tap("bp_pills", "two_or_more"),
        Event.say(height),
        Event.say(weight),
        Event.tap("share", "yes"),
        Event.say("13800138000"),
        Event("tap", step="name", option="yes", profile_name="Li Lei"),
        Event.tap("email", "skip"),
        Event.tap("best_time", "morning"),
        Event.tap("call_lang", "en"),
    ]
    texts = []
    for event in events:
        result = await service.handle(who, event)
        assert result is not None
        texts += [r.text for r in result.replies]
    return texts


async def test_the_second_trial_runs_end_to_end_in_two_languages(flows: Path, store: Store) -> None:
    engine = Engine(load_flow(flows / "second_trial.yaml"))
    service = Conversations(engine, store)
    chinese = "\n".join(await screen(service, 9001, "zh-Hans", "1米70", "80公斤"))
    spanish = "\n".join(await screen(service, 9002, "es", "170 cm", "80 kg"))
    assert "您吸烟吗？" in chinese and "您每天吃几种降压药？" in chinese
    assert "¿Fuma?" in spanish and "¿Cuántos tipos de pastillas" in spanish

    referrals = await store.referrals()
    assert len(referrals) == 2 and {r.flow_id for r in referrals} == {"second_trial"}
    assert {r.outcome for r in referrals} == {"likely_eligible"}

    card = TeamTexts("en").card(referrals[0])
    for line in (
        "Protocol: DEMO-2 v3 (flow second_trial, version 3)",
        "✅ Takes blood pressure pills",
        "✅ Body mass index (BMI)",
        "Blood pressure pills: Two or more",
        "Smoker: No",
        "BMI: 27.7",
    ):
        assert line in card.plain, line
    assert card.plain.index("Weight:") < card.plain.index("BMI: 27.7")  # after its last fact
    chinese_card = TeamTexts("zh-Hans").card(referrals[1]).plain
    assert "降压药" in chinese_card and "吸烟" in chinese_card

    rows = list(csv.DictReader(io.StringIO(referrals_csv(referrals).decode("utf-8-sig"))))
    assert [row["body_mass"] for row in rows] == ["27.7", "27.7"]
    assert {row["criterion:treated"] for row in rows} == {"pass"}
    assert {row["answer:body_height [cm]"] for row in rows} == {"170"}
    assert {row["answer:bp_pills"] for row in rows} == {"two_or_more"}
    assert "bmi" not in rows[0]  # the first trial's derived value is not this one's

    counts = totals(await store.funnel())
    assert counts["started"] == 2 and counts["completed"] == 2
    assert counts["likely_eligible"] == 2


def test_the_second_trial_replays_and_names_its_figure_in_the_reason() -> None:
    engine = Engine(load_flow(SOURCE))
    heavy = {"adult": "yes", "smoker": "no", "bp_pills": "one"}
    line = run_profile(
        engine, {"id": "p", "answers": {**heavy, "body_height": "160 cm", "body_weight": "90 kg"}}
    )
    assert line == {
        "id": "p",
        "outcome": "likely_ineligible",
        "failed": ["body_size"],
        "unknown": [],
    }
    conv = engine.new("en")
    for event in (
        Event.start(),
        Event.tap("consent", "agree"),
        Event.tap("adult", "yes"),
        Event.tap("smoker", "no"),
        Event.tap("bp_pills", "one"),
        Event.say("160 cm"),
    ):
        engine.handle(conv, event)
    texts = [r.text for r in engine.handle(conv, Event.say("90 kg")).replies]
    assert any("your BMI is 35.2" in t for t in texts), texts


async def test_a_referral_is_shown_with_the_flow_version_that_decided_it(
    flows: Path, store: Store
) -> None:
    engine = Engine(load_flow(flows / "second_trial.yaml"))
    await screen(Conversations(engine, store), 9003, "en", "170 cm", "80 kg")
    # A release lowers the BMI limit to 25 and keeps version 3 beside the new file.
    (flows / "second_trial").mkdir()
    shutil.copy(flows / "second_trial.yaml", flows / "second_trial" / "3.yaml")
    data = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    data["version"], data["protocol"] = 4, "DEMO-2 v4"
    data["criteria"][-1]["rule"]["by"]["cases"]["no"]["derived_between"]["max"] = 25
    (flows / "second_trial.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    flow_for.cache_clear()
    assert kept_versions("second_trial") == [3]
    assert load_flow_version("second_trial").version == 4

    (referral,) = await store.referrals()
    assert referral.flow_version == "3"
    card = TeamTexts("en").card(referral).plain
    assert "✅ Body mass index (BMI)" in card and "BMI: 27.7" in card  # decided under v3
    assert "version 3" in card

    # Without the kept file, the card falls back to the decision stored with the referral.
    (flows / "second_trial" / "3.yaml").unlink()
    flow_for.cache_clear()
    card = TeamTexts("en").card(referral).plain
    assert "❌" not in card and "version 3" in card


def _release_version_4(flows: Path) -> None:
    """Keep version 3 beside the file and make the file version 4, with a new question."""
    (flows / "second_trial").mkdir(exist_ok=True)
    shutil.copy(flows / "second_trial.yaml", flows / "second_trial" / "3.yaml")
    data = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    data["version"], data["protocol"] = 4, "DEMO-2 v4"
    data["questions"][1]["id"] = "smokes_now"
    data["criteria"][1]["rule"] = {"none_yes": ["smokes_now"]}
    for criterion in data["criteria"][2:]:
        criterion["rule"]["by"]["fact"] = "smokes_now"
    for question in data["questions"][2:]:
        question["when"]["fact"] = "smokes_now"
    (flows / "second_trial.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    flow_for.cache_clear()


async def test_an_unfinished_screening_of_an_older_version_starts_again_kindly(
    flows: Path, store: Store
) -> None:
    old = Conversations(Engine(load_flow(flows / "second_trial.yaml")), store)
    midway = Inbound("tg:9004", chat_id=9004, lang_hint="es")
    for event in (Event.start(), Event.tap("consent", "agree"), Event.tap("adult", "yes")):
        await old.handle(midway, event)
    await screen(old, 9005, "en", "170 cm", "80 kg")  # finished under version 3
    _release_version_4(flows)
    new = Conversations(Engine(load_flow(flows / "second_trial.yaml")), store)

    result = await new.handle(midway, Event.tap("smoker", "no"))  # a button of version 3
    assert result is not None
    texts = [r.text for r in result.replies]
    assert "Las preguntas de este estudio han cambiado" in texts[0], texts
    assert result.replies[-1].step == "adult"  # the first question again, consent kept
    conv = await new.current(midway)
    assert conv.flow_version == "4" and conv.state == "adult" and not conv.answers
    result = await new.handle(midway, Event.tap("adult", "yes"))
    assert result is not None and result.replies[-1].step == "smokes_now"

    finished = await new.current(Inbound("tg:9005", chat_id=9005))
    assert finished.state == "done" and finished.flow_version == "3"  # decided: kept
    (referral,) = [r for r in await store.referrals() if r.flow_version == "3"]
    assert "✅ Not smoking" in TeamTexts("en").card(referral).plain
