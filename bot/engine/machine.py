"""One ``transitions`` Machine per flow, built once; conversations are restored by assignment.

The machine holds the flow's graph: a state per question, a ``confirm:<question>`` state
where a deciding answer is shown back before the flow stops early, ``alerts`` (the
offer of other trials after an early stop) and ``done``. Conversations are not added
to the machine: the engine sets ``conversation.state`` and triggers events on the
shared machine with ``machine.events[name].trigger(conversation)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from transitions import EventData, Machine

from bot.engine.flow import Flow
from bot.engine.record import Conversation
from bot.engine.rules import Verdict

DONE = "done"
ALERTS = "alerts"
CONFIRM_PREFIX = "confirm:"
CONSENT = "consent"  # agreement to health questions, before the first one
DECLINED = "declined"
SHARE = "share"  # agreement to hand contact details to the study team
CONTACT_STEPS = ("phone", "name", "email", "best_time", "call_lang")


def confirm_state(qid: str) -> str:
    """Return the name of the state that confirms question ``qid``'s deciding answer."""
    return f"{CONFIRM_PREFIX}{qid}"


class _Check:
    """A named condition on a conversation, so the graph can print what it tests."""

    def __init__(self, label: str, test: Callable[[Conversation], bool]) -> None:
        self.label = label
        self._test = test

    def __call__(self, event: EventData) -> bool:
        return self._test(cast(Conversation, event.model))


class FlowMachine:
    """The flow's state machine, shared by every conversation of that flow."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        questions = [q.id for q in flow.questions]
        states = [
            CONSENT,
            DECLINED,
            *questions,
            *(confirm_state(q) for q in questions),
            ALERTS,
            SHARE,
            *CONTACT_STEPS,
            DONE,
        ]
        self.machine = Machine(
            model=None,
            states=states,
            transitions=self._transitions(),
            initial=CONSENT,
            auto_transitions=False,
            send_event=True,
        )
        self.first = questions[0]

    def _transitions(self) -> list[dict[str, Any]]:
        flow = self.flow
        fails = _Check("a criterion fails", self.has_failure)
        result: list[dict[str, Any]] = []
        for index, question in enumerate(flow.questions):
            result.append(
                {
                    "trigger": "next",
                    "source": question.id,
                    "dest": confirm_state(question.id),
                    "conditions": [fails],
                }
            )
            unconditional = False
            for later in flow.questions[index + 1 :]:
                if later.when is None:
                    result.append({"trigger": "next", "source": question.id, "dest": later.id})
                    unconditional = True
                    break
                check = _Check(f"ask {later.id}", self._asker(later.id))
                result.append(
                    {
                        "trigger": "next",
                        "source": question.id,
                        "dest": later.id,
                        "conditions": [check],
                    }
                )
            if not unconditional:
                result.append({"trigger": "next", "source": question.id, "dest": DONE})
            result.append(
                {"trigger": "confirm", "source": confirm_state(question.id), "dest": ALERTS}
            )
            result.append(
                {"trigger": "revise", "source": confirm_state(question.id), "dest": question.id}
            )
        result.append({"trigger": "finish", "source": ALERTS, "dest": DONE})
        result.append({"trigger": "agree", "source": CONSENT, "dest": flow.questions[0].id})
        result.append({"trigger": "decline", "source": CONSENT, "dest": DECLINED})
        result.append({"trigger": "reconsider", "source": DECLINED, "dest": CONSENT})
        result.append({"trigger": "handoff", "source": DONE, "dest": SHARE})
        result.append({"trigger": "accept", "source": SHARE, "dest": CONTACT_STEPS[0]})
        result.append({"trigger": "refuse", "source": SHARE, "dest": DONE})
        for step, following in zip(CONTACT_STEPS, [*CONTACT_STEPS[1:], DONE], strict=True):
            result.append({"trigger": "next", "source": step, "dest": following})
        return result

    def _asker(self, qid: str) -> Callable[[Conversation], bool]:
        condition = self.flow.question(qid).when

        def asks(conversation: Conversation) -> bool:
            if condition is None:
                return True
            return condition(self.flow.view(conversation.answers)) is not False

        return asks

    def has_failure(self, conversation: Conversation) -> bool:
        """Return True when some criterion already fails for good."""
        verdicts = self.flow.evaluate(self.flow.view(conversation.answers))
        return Verdict.FAIL in verdicts.values()

    def trigger(self, conversation: Conversation, event: str) -> bool:
        """Fire ``event`` for one conversation on the shared machine."""
        return bool(self.machine.events[event].trigger(conversation))

    def edges(self) -> list[tuple[str, str, str]]:
        """Return every transition as (source, destination, label)."""
        found = []
        for name, event in self.machine.events.items():
            for source, transitions in event.transitions.items():
                for transition in transitions:
                    labels = [getattr(c.func, "label", str(c.func)) for c in transition.conditions]
                    label = name + (f" [{'; '.join(labels)}]" if labels else "")
                    found.append((source, transition.dest or source, label))
        return found

    def dot(self) -> str:
        """Return the flow as a Graphviz digraph (for an SVG when Graphviz is installed)."""
        lines = ["digraph flow {", "  node [shape=box, fontsize=10]; edge [fontsize=8];"]
        for source, dest, label in self.edges():
            lines.append(f'  "{source}" -> "{dest}" [label="{label}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def mermaid(self) -> str:
        """Return the flow as a Mermaid state diagram, for the study team to check by eye."""
        lines = ["stateDiagram-v2", f"    [*] --> {_node(CONSENT)}"]
        for source, dest, label in self.edges():
            lines.append(f"    {_node(source)} --> {_node(dest)}: {label}")
        lines.append(f"    {_node(DONE)} --> [*]")
        return "\n".join(lines) + "\n"


def _node(state: str) -> str:
    return state.replace(":", "__")
