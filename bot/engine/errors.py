"""Errors the engine raises while loading a flow."""

from __future__ import annotations


class FlowError(ValueError):
    """A flow file is broken; the message names the file, the step and the problem."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem}")
        self.source = source
        self.where = where
        self.problem = problem
