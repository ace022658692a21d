"""Seeded, reproducible fault injection for the fake Bot API."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    """A kind of fault the fake can inject."""

    RETRY_AFTER = "retry_after"  # 429 Too Many Requests with parameters.retry_after
    SERVER_ERROR = "server_error"  # 500 Internal Server Error
    BAD_GATEWAY = "bad_gateway"  # 502 Bad Gateway
    TIMEOUT = "timeout"  # hold the request for `hold` seconds, then close without answering
    DROP = "drop"  # close the connection at once without answering
    DUPLICATE = "duplicate"  # deliver an update again after it was confirmed (methods ignored)


REQUEST_FAULTS = frozenset(
    {Fault.RETRY_AFTER, Fault.SERVER_ERROR, Fault.BAD_GATEWAY, Fault.TIMEOUT, Fault.DROP}
)


@dataclass
class FaultRule:
    """One fault: what, how often, on which methods, and its options."""

    kind: Fault
    fraction: float
    methods: frozenset[str] | None = None  # lower-cased method names; None: every method
    retry_after: int = 1  # RETRY_AFTER: seconds in parameters.retry_after
    hold: float = 6.0  # TIMEOUT: seconds to hold the request (longer than the client timeout)
    executed: bool = False  # TIMEOUT / DROP: carry the request out before losing the answer
    limit: int | None = None  # stop after injecting this many
    count: int = 0  # injected so far

    @property
    def exhausted(self) -> bool:
        """Return whether the rule reached its limit."""
        return self.limit is not None and self.count >= self.limit

    def applies_to(self, method: str) -> bool:
        """Return whether this rule may fire on ``method``."""
        return not self.exhausted and (self.methods is None or method.lower() in self.methods)


class Faults:
    """The fault plan: rules drawn from a seeded random stream, counted per kind.

    Every request whose method matches at least one request-level rule draws one number
    from the seeded stream; the matching rules split [0, 1) by their fractions, in the
    order they were added. Updates draw from a second stream, once per first delivery, for
    DUPLICATE rules. The same seed and the same sequence of matching requests give the
    same faults.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.enabled = True
        self.rules: list[FaultRule] = []
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._dup_rng = random.Random(f"{seed}:duplicate")

    def add(
        self,
        kind: Fault | str,
        fraction: float,
        *,
        methods: Iterable[str] | str | None = None,
        retry_after: int = 1,
        hold: float = 6.0,
        executed: bool = False,
        limit: int | None = None,
    ) -> FaultRule:
        """Add a rule injecting ``kind`` into ``fraction`` of matching requests; return it."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], not {fraction}")
        if isinstance(methods, str):
            methods = [methods]
        names = None if methods is None else frozenset(m.lower() for m in methods)
        rule = FaultRule(Fault(kind), fraction, names, retry_after, hold, executed, limit)
        with self._lock:
            self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        """Remove one rule."""
        with self._lock:
            self.rules.remove(rule)

    def clear(self) -> None:
        """Remove every rule (counts are kept)."""
        with self._lock:
            self.rules.clear()

    def reset(self, seed: int | None = None) -> None:
        """Remove every rule, zero the counts and restart the random streams."""
        with self._lock:
            self.seed = self.seed if seed is None else seed
            self.rules.clear()
            self.injected.clear()
            self._rng = random.Random(self.seed)
            self._dup_rng = random.Random(f"{self.seed}:duplicate")

    @property
    def total(self) -> int:
        """Return how many faults were injected, of every kind."""
        return sum(self.injected.values())

    def pick(self, method: str) -> FaultRule | None:
        """Draw the request-level fault for one call to ``method``, or None."""
        with self._lock:
            if not self.enabled:
                return None
            rules = [r for r in self.rules if r.kind in REQUEST_FAULTS and r.applies_to(method)]
            if not rules:
                return None
            return self._choose(rules, self._rng.random())

    def duplicate(self) -> bool:
        """Draw whether an update delivered for the first time is to be delivered again."""
        with self._lock:
            if not self.enabled:
                return False
            rules = [r for r in self.rules if r.kind is Fault.DUPLICATE and not r.exhausted]
            if not rules:
                return False
            return self._choose(rules, self._dup_rng.random()) is not None

    def _choose(self, rules: list[FaultRule], draw: float) -> FaultRule | None:
        edge = 0.0
        for rule in rules:
            edge += rule.fraction
            if draw < edge:
                rule.count += 1
                self.injected[rule.kind.value] += 1
                return rule
        return None
