"""The campaign benchmark at smoke size: every screening completes, once, with no 429.

The bot runs as ``python -m bot run`` does against the fake Bot API with Telegram's limits
on (30 a second in all, a short burst then one a second per private chat, 20 a minute per
group), time compressed. Timing is never asserted: the figures are the runner's (README,
Performance).
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.campaign import CampaignOptions, ideal_waits, plan
from benchmarks.campaign_script import Script, Step
from tests.test_benchmarks import run


def test_a_small_campaign_completes_once_without_429(tmp_path: Path) -> None:
    out = tmp_path / "campaign.json"
    run(
        "benchmarks",
        "--smoke",
        "--only",
        "campaign",
        "--db",
        "sqlite",
        "--json",
        str(out),
        results=tmp_path / "results",
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    figure = result["figures"]["campaign"]["results"]["sqlite"]
    patients = CampaignOptions.smoke().patients
    assert figure["patients"] == patients
    assert figure["completed"] == patients, figure["errors"]
    assert figure["floods"] == 0, figure["floods_by_limit"]
    assert figure["duplicate_messages"] == 0 and figure["missing_messages"] == 0
    assert figure["team_cards"] == figure["referrals"]  # every referral reached the team once
    assert figure["team_most_per_minute"] <= 20
    calls = figure["bot_api_calls_per_screening"]
    assert calls["sendMessage"] > 0 and set(calls) <= {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
        "sendDocument",
    }


def test_the_ideal_sender_serves_first_come_first_served_at_the_cap() -> None:
    """Two people at once, two messages each, 2 a second: the second waits for the first."""
    two = Script("p", "en", (Step("command", "/start", "", 2),), "likely_eligible", False)
    people = plan(CampaignOptions(patients=2, arrival_window=0.0), [two])
    assert [p.arrival for p in people] == [0.0, 0.0]
    assert ideal_waits(people, cap=2.0) == [0.5, 1.5]
