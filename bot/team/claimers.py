"""Who claimed an outbox item, and whether that process is gone.

An outbox item is claimed for a lease (5 minutes); a worker killed while it held claims
(SIGKILL, a power cut) cannot give them back, so they would wait for the lease to run out.
A worker's id names its process precisely enough for a process started later on the same
machine to tell, without a doubt, that the claimer no longer runs, and give its items back
at once (``OutboxWorker.run``): the host, the pid, the machine's boot and PID namespace (as a
short hash: ``scope``) and the process's start time (so a reused pid is not mistaken for the
claimer). A claimer in another PID namespace, on another machine, or where ``/proc`` is
unknown is never judged: its items wait for their lease as before.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import socket
from pathlib import Path

PROC = Path("/proc")
UNKNOWN = "-"


def worker_name() -> str:
    """A worker id unique to this process and worker, at most 64 characters:
    ``host:pid:scope:start:random`` (scope and start are ``-`` without ``/proc``)."""
    pid = os.getpid()
    start = _start_time(pid)
    started = UNKNOWN if start is None else format(start, "x")
    name = f"{socket.gethostname()[:24]}:{pid}:{_scope()}:{started}:{secrets.token_hex(4)}"
    return name[:64]


def claimer_gone(worker_id: str) -> bool:
    """True only when ``worker_id`` was a process of this machine and PID namespace that no
    longer runs (its pid is free, a zombie, or a later process's)."""
    parts = worker_id.rsplit(":", 4)
    if len(parts) != 5:
        return False  # not a worker_name() (a test's name, an older format): cannot tell
    _, pid, scope, started, _ = parts
    if scope == UNKNOWN or scope != _scope() or not pid.isdigit() or started == UNKNOWN:
        return False
    try:
        fields = _stat_fields(int(pid))
    except FileNotFoundError:
        return True  # no such process here
    except (OSError, ValueError):
        return False
    if fields is None:
        return False
    state, start = fields
    return state in {"Z", "X"} or format(start, "x") != started


@functools.cache
def _scope() -> str:
    """A short hash of this machine's boot and this process's PID namespace."""
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink(PROC / "self/ns/pid")
    except OSError:
        return UNKNOWN
    return hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:8]


def _start_time(pid: int) -> int | None:
    try:
        fields = _stat_fields(pid)
    except (OSError, ValueError):
        return None
    return None if fields is None else fields[1]


def _stat_fields(pid: int) -> tuple[str, int] | None:
    """The state and start time (clock ticks after boot) in ``/proc/<pid>/stat``."""
    text = (PROC / str(pid) / "stat").read_text()
    # the command name (field 2) is in parentheses and may hold spaces or parentheses
    rest = text[text.rindex(")") + 2 :].split()
    if len(rest) < 20:
        return None
    return rest[0], int(rest[19])  # fields 3 (state) and 22 (starttime)
