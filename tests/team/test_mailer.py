"""E-mail of each referral to HANDOFF_EMAIL, against a local aiosmtpd server."""

from __future__ import annotations

import asyncio
import time
from email.header import decode_header, make_header
from pathlib import Path

from bot.config import Settings
from bot.storage import Store, commands
from bot.team.cards import TeamTexts
from bot.team.mailer import SmtpMailer
from bot.team.outbox import OutboxWorker, WorkerOptions
from tests.team.conftest import Inbox
from tests.team.helpers import make_referral


async def test_each_referral_is_mailed_to_the_handoff_address(
    smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'mail.db'}",
        data_encryption_key=commands.keygen(),
        handoff_email="study-team@example.org",
        smtp_host="127.0.0.1",
        smtp_port=port,
        _env_file=None,  # type: ignore[call-arg]
    )
    await commands.upgrade(settings)
    store = await Store.open(settings)
    try:
        ref = await make_referral(store, 1, name="李 <b>&*", card=False, mail=True)
        mailer = SmtpMailer.from_settings(settings)
        assert mailer is not None
        worker = OutboxWorker(
            store,
            sender=None,  # type: ignore[arg-type]  # no team chat in this test
            texts=TeamTexts("zh-Hans"),
            team_pacer=None,
            mailer=mailer,
            options=WorkerOptions(poll_interval=0.02),
        )
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 10
        while not inbox.messages:
            assert time.monotonic() < deadline, "no e-mail arrived"
            await asyncio.sleep(0.02)
        worker.stop()
        await asyncio.wait_for(task, 5)
    finally:
        await store.close()
    sender, recipients, message = inbox.messages[0]
    assert recipients == ["study-team@example.org"] and sender == "trialbot@127.0.0.1"
    subject = str(make_header(decode_header(message["Subject"])))
    assert ref in subject
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode(message.get_content_charset() or "utf-8")
    assert "李 <b>&*" in text and "130斤" in text and ref in text
    assert len(inbox.messages) == 1


def test_no_mailer_without_an_address_or_a_server() -> None:
    assert SmtpMailer.from_settings(Settings(_env_file=None)) is None  # type: ignore[call-arg]
    only_address = Settings(handoff_email="a@b.c", _env_file=None)  # type: ignore[call-arg]
    assert SmtpMailer.from_settings(only_address) is None
