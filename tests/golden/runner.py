"""Run golden conversations, and rewrite their expected replies on request.

A golden file (``tests/golden/<flow>.test.json``) holds runs. Each run names a language
and a list of inputs; each input is one of ``{"start": tag}``, ``{"say": text}``,
``{"tap": option}`` (an option of the last question asked), ``{"tap_step": "step|option"}``
(a button of any step, as from an old message) or ``{"cmd": name}``. The
file stores, per input, the replies the engine gave (kind, step, text, option ids),
and the outcome at the end.

    python -m tests.golden.runner --update   # after a deliberate change; review the diff
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.engine.engine import Engine, load_engine
from bot.engine.events import Event, Reply

GOLDEN_DIR = Path(__file__).parent


def golden_files() -> list[Path]:
    """Return every golden file."""
    return sorted(GOLDEN_DIR.glob("*.test.json"))


def _event(spec: dict[str, str], asked: Reply | None) -> Event:
    ((kind, value),) = spec.items()
    if kind == "start":
        return Event.start(value)
    if kind == "say":
        return Event.say(value)
    if kind == "cmd":
        return Event.cmd(value)
    if kind == "tap_step":  # a tap on a button of any step, e.g. an old message's
        step, _, option = value.partition("|")
        return Event.tap(step, option)
    if kind == "tap":
        if asked is None:
            raise ValueError(f"tap {value!r} with no question asked")
        return Event.tap(asked.step, value)
    raise ValueError(f"unknown golden input {spec!r}")


def _reply(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": reply.kind, "text": reply.text}
    if reply.step:
        data["step"] = reply.step
    if reply.choices:
        data["choices"] = [c.id for c in reply.choices]
    return data


def play(engine: Engine, run: dict[str, Any]) -> dict[str, Any]:
    """Play one run's inputs; return the run with the replies and outcome observed."""
    conv = engine.new(run["lang"])
    asked: Reply | None = None
    steps = []
    for spec in run["inputs"]:
        result = engine.handle(conv, _event(spec, asked))
        asked = next((r for r in reversed(result.replies) if r.step), asked)
        steps.append({"in": spec, "out": [_reply(r) for r in result.replies]})
    return {
        "name": run["name"],
        "lang": run["lang"],
        "inputs": run["inputs"],
        "steps": steps,
        "outcome": conv.outcome,
    }


def load(path: Path) -> dict[str, Any]:
    """Read a golden file."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def update(path: Path) -> None:
    """Rewrite a golden file's expected replies from the current engine."""
    data = load(path)
    engine = load_engine(data["flow"])
    data["flow_version"] = engine.flow.version
    data["runs"] = [play(engine, run) for run in data["runs"]]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help="rewrite the expected replies")
    if parser.parse_args().update:
        for golden in golden_files():
            update(golden)
            print(f"updated {golden}")
