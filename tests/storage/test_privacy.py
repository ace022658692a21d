"""Personal data: encrypted at rest, never logged, erased on request."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.storage import Store, db
from tests.storage.conftest import OpenStore, pg_fetch, record

NAME = "李雷 <b>&*"
PHONE = "+86 138 0013 8000"
TELEGRAM_ID = 987654321
USERNAME = "li_lei_<b>&*"
EMAIL = "li.lei@example.cn"
#: Answer values (an option id, a canonical number) are health data too: encrypted at rest.
ANSWER_VALUES = ["65.0", "hiv_positive", "pregnant_now"]
SECRETS = [NAME, "李雷", PHONE, "13800138000", str(TELEGRAM_ID), USERNAME, EMAIL, *ANSWER_VALUES]


async def screen_with_contact(store: Store, user_id: int = TELEGRAM_ID, base: int = 0) -> str:
    key = f"tg:{user_id}"
    async with store.turn(key, base + 1) as turn:
        turn.save(record("consent"), chat_id=user_id)
        turn.add_consent("health_processing", True, "I agree ...", "zh-Hans")
    async with store.turn(key, base + 2) as turn:
        assert turn.record is not None
        turn.save(record("weight"))
        turn.add_answer("weight", "65.0", raw="130斤", unit="jin")
    async with store.turn(key, base + 3) as turn:
        turn.save(record("done", pending={"name": NAME}), status="finished")
        turn.set_outcome("likely_eligible", flow_id="nct06751199", protocol_version="2025-06")
        turn.add_consent("share_contact", True, "I agree to share ...", "zh-Hans")
        turn.save_contact(
            name=NAME,
            phone=PHONE,
            email=EMAIL,
            username=USERNAME,
            best_time=f"evenings, ask for {NAME}",
            call_lang="zh-Hans",
        )
        code = turn.create_referral("likely_eligible")
        turn.enqueue("referral_card", code, {"name": NAME, "phone": PHONE})
    return code


def plain_text_hits(data: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode("utf-8") in data]


async def test_personal_data_is_not_in_the_database_or_the_logs(
    backend: str, db_url: str, open_store: OpenStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # its statements and results too
    store = await open_store()
    code = await screen_with_contact(store)
    async with store.turn(f"tg:{TELEGRAM_ID}", 4) as turn:
        turn.add_answer("hiv", "hiv_positive")
        turn.add_answer("pregnancy", "pregnant_now")
    details = await store.referral(code)  # the card can be rebuilt, decrypted
    assert details is not None and details.contact is not None
    assert details.answers["hiv"].value == "hiv_positive"
    assert details.answers["weight"].value == "65.0"
    assert (details.contact.name, details.contact.phone) == (NAME, PHONE)
    assert details.contact.username == USERNAME and details.chat_id == TELEGRAM_ID
    assert details.answers["weight"].raw == "130斤"
    items = await store.claim_outbox("w", 10)
    assert items[0].payload == {"name": NAME, "phone": PHONE}

    if backend == "sqlite":
        path = db.sqlite_file(db.parse_url(db_url))
        assert path is not None
        files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
        assert Path(f"{path}-wal") in files  # searched while the store is open
        for file in files:
            assert plain_text_hits(file.read_bytes()) == [], file
    else:
        dump = ""
        for (table,) in await pg_fetch(
            db_url,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
        ):
            rows = await pg_fetch(db_url, f"SELECT row_to_json(t)::text FROM {table} t")
            dump += "\n".join(r[0] for r in rows)
        assert plain_text_hits(dump.encode("utf-8")) == []
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert any(r.name.startswith("sqlalchemy") for r in caplog.records)
    assert any(r.name == "bot.storage" for r in caplog.records)
    assert plain_text_hits(logged.encode("utf-8")) == []
    await store.close()
    if backend == "sqlite":  # and after closing (the WAL folded into the file)
        assert path is not None
        assert plain_text_hits(path.read_bytes()) == []


async def test_erasing_a_person_removes_their_rows_and_leaves_a_clean_audit_line(
    store: Store,
) -> None:
    code = await screen_with_contact(store)
    await store.set_card_message(code, 4242)
    await screen_with_contact(store, user_id=555, base=10)  # someone else, kept
    await store.set_referral_status(code, "contacted", "tg:1001")
    await store.enqueue("patient_notice", f"ack:{code}", {"ref": code})  # no user key known
    mine = store.user_hash(f"tg:{TELEGRAM_ID}")

    erased = await store.erase_person(f"tg:{TELEGRAM_ID}")

    assert erased.cards == [(code, 4242)]
    assert erased.counts["conversations"] == 1
    assert erased.counts["answers"] == 1
    assert erased.counts["contacts"] == 1
    assert erased.counts["consents"] == 2
    assert erased.counts["referral_status_history"] == 2
    assert erased.counts["outbox"] == 1
    assert await store.referral(code) is None
    assert await store.answer_history(f"tg:{TELEGRAM_ID}") == []
    assert await store.find_chat(f"tg:{TELEGRAM_ID}") is None
    async with store.turn(f"tg:{TELEGRAM_ID}") as turn:
        assert turn.is_new
    others = await store.referrals()
    assert len(others) == 1 and others[0].chat_id == 555

    audit = await store.recent_audit()
    line = next(a for a in audit if a.action == "erase_person")
    text = json.dumps([line.actor_hash, line.subject, line.detail], ensure_ascii=False)
    assert mine not in text and code not in text
    assert plain_text_hits(text.encode("utf-8")) == []
    assert line.detail["rows"]["conversations"] == 1
    # the coordinator's earlier status change no longer names the erased referral
    assert all(a.subject != code for a in audit)
    # the posted card is redacted through the outbox, in the erasure's own transaction, and
    # nothing queued under the reference code is left
    [redaction] = await store.claim_outbox("w", 10, kinds=["card_redaction"])
    assert await store.claim_outbox("w", 10, kinds=["patient_notice"]) == []
    assert redaction.payload == {"ref": code, "message_id": 4242, "reason": "erased"}
    assert redaction.user_hash is None and redaction.dedupe_key == "redact:4242"


async def test_erasure_inside_a_turn(store: Store) -> None:
    await screen_with_contact(store)
    async with store.turn(f"tg:{TELEGRAM_ID}", 99) as turn:
        assert turn.record is not None
        turn.erase()
        with pytest.raises(RuntimeError):
            turn.save(record())
    assert turn.erasure is not None and turn.erasure.counts["conversations"] == 1
    async with store.turn(f"tg:{TELEGRAM_ID}", 99) as again:
        assert again.duplicate  # the /delete update itself was marked processed
    assert await store.referrals() == []
