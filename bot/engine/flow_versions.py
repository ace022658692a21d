"""Released versions of a flow: the current file and the versions kept beside it.

``flows/<id>.yaml`` is the flow that screens new conversations. When a release changes its
questions or rules, its ``version`` goes up and the file of the version before is kept as
``flows/<id>/<version>.yaml``: a referral is shown (its criteria, labels and derived values)
with the version that decided it, never with today's file. A conversation left unfinished
under an older version is not continued with the new questions: see
:mod:`bot.engine.outdated`.
"""

from __future__ import annotations

from pathlib import Path

from bot.engine.errors import FlowError
from bot.engine.flow import Flow, flow_path, load_flow


def version_path(flow_id: str, version: str | int) -> Path:
    """Return where released version ``version`` of flow ``flow_id`` is kept."""
    return flow_path(flow_id).with_suffix("") / f"{version}.yaml"


def load_flow_version(flow_id: str, version: str | int | None = None) -> Flow:
    """Load flow ``flow_id`` in ``version`` (None: the current one); FlowError when not kept."""
    current = load_flow(flow_path(flow_id))
    if version is None or str(version) == str(current.version):
        return current
    path = version_path(flow_id, version)
    if not path.is_file():
        raise FlowError(str(path), "file", f"version {version} of {flow_id!r} is not kept")
    old = load_flow(path)
    if old.id != flow_id or str(old.version) != str(version):
        raise FlowError(
            str(path), "flow", f"holds {old.id!r} version {old.version}, not {flow_id!r} {version}"
        )
    return old


def kept_versions(flow_id: str) -> list[int]:
    """Return the versions of ``flow_id`` kept beside the current file, oldest first."""
    folder = flow_path(flow_id).with_suffix("")
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.yaml") if p.stem.isdigit())
