"""`python -m bot run` refuses to start with a clear line and exit code 2, never a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.commands import keygen
from tests.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]


async def run_bot(env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    """Run `python -m bot run` with only ``env`` configured; return (exit code, stderr)."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATA_", "DATABASE_"))
    }
    clean.update(env)
    clean["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=clean,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, err.decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "DATA_ENCRYPTION_KEY": keygen(),
    }


async def test_malformed_token(tmp_path: Path, base_env: dict[str, str]) -> None:
    code, err = await run_bot({**base_env, "TELEGRAM_BOT_TOKEN": "not-a-token"}, tmp_path)
    assert code == 2 and "TELEGRAM_BOT_TOKEN is malformed" in err and "Traceback" not in err


async def test_token_the_api_rejects(tmp_path: Path, base_env: dict[str, str]) -> None:
    async with FakeBotAPI() as fake:
        env = {
            **base_env,
            "TELEGRAM_BOT_TOKEN": "999999:WRONG-TOKEN-abcdefghijklmnopqrst",
            "TELEGRAM_BASE_URL": fake.base_url,
        }
        code, err = await run_bot(env, tmp_path)
    assert code == 2 and "rejected TELEGRAM_BOT_TOKEN" in err and "Traceback" not in err


async def test_unreachable_api(tmp_path: Path, base_env: dict[str, str]) -> None:
    env = {
        **base_env,
        "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwx",
        "TELEGRAM_BASE_URL": f"http://127.0.0.1:{free_port()}/bot",
    }
    code, err = await run_bot(env, tmp_path)
    assert code == 2 and "Cannot reach the Bot API" in err and "Traceback" not in err


async def test_missing_encryption_key(tmp_path: Path, base_env: dict[str, str]) -> None:
    env = {
        "DATABASE_URL": base_env["DATABASE_URL"],
        "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwx",
    }
    code, err = await run_bot(env, tmp_path)
    assert code == 2 and "python -m bot keygen" in err


async def test_bad_database_url(tmp_path: Path, base_env: dict[str, str]) -> None:
    env = {
        **base_env,
        "DATABASE_URL": "nosuchdb://x/y",
        "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwx",
    }
    code, err = await run_bot(env, tmp_path)
    assert code == 2 and "DATABASE_URL" in err and "Traceback" not in err


async def test_no_token_starts_the_terminal_chat(tmp_path: Path, base_env: dict[str, str]) -> None:
    code, err = await run_bot(base_env, tmp_path)
    assert code == 0 and "terminal chat" in err


@contextlib.contextmanager
def mounted(options: str) -> Iterator[Path]:
    """Mount a small tmpfs (read-only, or tiny to stand for a full disk) for one test."""
    where = Path(tempfile.mkdtemp(prefix="trialbot-fs-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI"):
            raise AssertionError(f"cannot mount a tmpfs in CI: {done.stderr!r}")
        pytest.skip("mounting a tmpfs needs root; CI runs this test")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


async def test_read_only_data_folder(tmp_path: Path, base_env: dict[str, str]) -> None:
    with mounted("ro,size=64k") as folder:
        env = {
            **base_env,
            "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/data/bot.db",
            "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwx",
        }
        code, err = await run_bot(env, tmp_path)
    assert code == 2 and "DATABASE_URL" in err and "Read-only" in err and "Traceback" not in err


async def test_full_disk(tmp_path: Path, base_env: dict[str, str]) -> None:
    with mounted("size=16k") as folder:
        env = {
            **base_env,
            "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/bot.db",
            "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwx",
        }
        code, err = await run_bot(env, tmp_path)
    assert code == 2 and "DATABASE_URL" in err and "disk" in err and "Traceback" not in err


async def test_wrong_encryption_key(tmp_path: Path, base_env: dict[str, str]) -> None:
    from bot.config import Settings
    from bot.storage.commands import upgrade
    from bot.storage.store import Store

    settings = Settings(
        database_url=base_env["DATABASE_URL"],
        data_encryption_key=base_env["DATA_ENCRYPTION_KEY"],
        _env_file=None,
    )  # type: ignore[call-arg]
    await upgrade(settings)
    await (await Store.open(settings)).close()  # the database now knows its key
    env = {
        **base_env,
        "DATA_ENCRYPTION_KEY": keygen(),
        "TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN-abcdefghijklmnopqrstuvwx",
    }
    code, err = await run_bot(env, tmp_path)
    assert code == 2 and "DATA_ENCRYPTION_KEY" in err and "Nothing was changed" in err
