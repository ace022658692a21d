"""Which outbox claimers are gone: only a process of this machine and PID namespace that no
longer runs (``bot/team/claimers.py``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.team.claimers import claimer_gone, worker_name

NAME = "from bot.team.claimers import worker_name; print(worker_name(), flush=True)"
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def test_a_worker_name_fits_its_column_and_this_process_is_not_gone() -> None:
    name = worker_name()
    assert len(name) <= 64 and len(name.split(":")) == 5
    assert not claimer_gone(name)
    assert worker_name() != name  # two workers of one process have names of their own


def test_a_process_that_ended_is_gone() -> None:
    done = subprocess.run([sys.executable, "-c", NAME], capture_output=True, check=True, text=True)
    assert claimer_gone(done.stdout.strip())


def test_a_running_process_is_not_gone_until_killed_even_before_it_is_reaped() -> None:
    code = f"{NAME}; import sys; sys.stdin.read()"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        name = child.stdout.readline().strip()
        assert not claimer_gone(name)
        child.kill()
        stat = Path(f"/proc/{child.pid}/stat")
        deadline = time.monotonic() + 30
        while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the killed child never became a zombie"
            time.sleep(0.01)  # polling the child's state, with a deadline
        assert claimer_gone(name)  # a zombie, not yet waited for
    finally:
        child.kill()
        child.wait()
        if child.stdin is not None:
            child.stdin.close()
        if child.stdout is not None:
            child.stdout.close()
    assert claimer_gone(name)


def test_a_reused_pid_is_not_the_claimer() -> None:
    host, pid, scope, start, token = worker_name().split(":")
    earlier = format(int(start, 16) - 1, "x")  # this pid, held by an earlier process
    assert claimer_gone(f"{host}:{pid}:{scope}:{earlier}:{token}")


@pytest.mark.parametrize(
    "name",
    [
        "w1",  # a test's name
        "vm:123:abcd1234",  # the former host:pid:random
        "vm:1:00000000:1f:abcd1234",  # another machine or PID namespace
        "vm:1:-:-:abcd1234",  # a process that had no /proc
    ],
)
def test_claimers_that_cannot_be_judged_are_never_gone(name: str) -> None:
    assert not claimer_gone(name)
