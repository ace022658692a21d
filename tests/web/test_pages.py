"""The console's notes, date filter, reminder state and Flow page, on SQLite and PostgreSQL."""

from __future__ import annotations

import html

from sqlalchemy import Connection, func, select

from bot.storage import Store
from bot.storage import models as m
from tests.storage.conftest import Clock
from tests.team.helpers import make_referral
from tests.web.conftest import Web

SCRIPT = "<script>alert(1)</script>"


async def test_notes_are_listed_with_who_and_when_audited_escaped_and_erased(
    web: Web, store: Store, clock: Clock
) -> None:
    ref = await make_referral(store, 7401)
    await web.coordinator("li")
    page = await web.client.get(f"/referrals/{ref}")
    assert "No notes yet." in page.text

    added = await web.post(f"/referrals/{ref}/notes", page, text="Called at 10:00, call back 王")
    assert added.status_code == 200 and "Note added." in added.text
    clock.advance(hours=1)
    again = await web.post(f"/referrals/{ref}/notes", added, text=SCRIPT)
    assert SCRIPT not in again.text and html.escape(SCRIPT) in again.text
    assert "Called at 10:00, call back 王" in again.text
    assert "Jan 5, 2026, 5:00\u202fPM · By <bdi>li</bdi>" in again.text  # hospital time, who
    assert "Jan 5, 2026, 6:00\u202fPM · By <bdi>li</bdi>" in again.text
    assert again.text.index("Called at 10:00") < again.text.index(html.escape(SCRIPT))

    empty = await web.post(f"/referrals/{ref}/notes", again, text="   ")
    assert "The note is empty." in empty.text
    refused = await web.client.post(f"/referrals/{ref}/notes", data={"text": "no token"})
    assert refused.status_code == 403

    audit = [a for a in await store.recent_audit(50) if a.action == "web_note_added"]
    assert len(audit) == 2 and all(a.subject == ref for a in audit)
    assert all("Called" not in str(a.detail) for a in audit)  # the text is never audited

    def raw(conn: Connection) -> list[str]:
        return list(conn.execute(select(m.referral_notes.c.text_enc)).scalars())

    stored = await store.execute(raw, write=False)
    assert len(stored) == 2 and not any("Called" in s or "script" in s for s in stored)

    await store.erase_person("tg:7401")

    def count(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(m.referral_notes)).scalar_one())

    assert await store.execute(count, write=False) == 0
    gone = await web.post(f"/referrals/{ref}/notes", again, text="too late")
    assert gone.status_code == 404


async def test_a_viewer_cannot_add_a_note(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7402)
    once = await web.accounts.add_user("zhao", "viewer")
    await web.sign_in("zhao", once)
    form = await web.client.get("/password")
    chosen = await web.post("/password", form, password="viewer-password-1")
    assert chosen.status_code == 303
    page = await web.client.get("/counts")
    refused = await web.post(f"/referrals/{ref}/notes", page, text="hello")
    assert refused.status_code == 403


async def test_the_list_filters_by_day_in_hospital_time_and_shows_reminders(
    web: Web, store: Store, clock: Clock
) -> None:
    early = await make_referral(store, 7403)  # 2026-01-05 09:00 UTC = 17:00 in Shanghai
    clock.advance(hours=10)
    late = await make_referral(store, 7404)  # 19:00 UTC on the 5th = 03:00 on the 6th there
    await store.mark_reminded([late])
    await web.coordinator()

    both = await web.client.get("/referrals")
    assert early in both.text and late in both.text
    assert "Reminder sent: Jan 6, 2026, 3:00\u202fAM" in both.text
    assert "No reminder sent" in both.text

    sixth = await web.client.get("/referrals", params={"from": "2026-01-06"})
    assert late in sixth.text and early not in sixth.text
    assert 'name="from" value="2026-01-06"' in sixth.text
    fifth = await web.client.get("/referrals", params={"from": "2026-01-05", "to": "2026-01-05"})
    assert early in fifth.text and late not in fifth.text
    nothing = await web.client.get("/referrals", params={"to": "2026-01-04"})
    assert "No referrals match." in nothing.text
    wrong = await web.client.get("/referrals", params={"from": "yesterday"})
    assert early in wrong.text and late in wrong.text  # not a date: no limit


async def test_the_flow_page_shows_the_steps_branches_and_protocol(web: Web) -> None:
    await web.coordinator()
    page = await web.client.get("/flow")
    assert page.status_code == 200
    assert "NCT06751199" in page.text
    assert "Has a doctor told you that you have diabetes?" in page.text
    assert "Asked only when the answer to “Are you female or male?” is: Female" in page.text
    assert page.text.count("<li>") > 20  # every question, then the criteria
    assert "<script" not in page.text  # drawn by the server, no script, no outside site
