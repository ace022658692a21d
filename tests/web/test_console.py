"""The console over HTTP, on SQLite and PostgreSQL: signing in, the referrals, their workflow,
and the attacks it must refuse."""

from __future__ import annotations

import re

import pytest

from bot.storage import Store
from bot.web.accounts import MAX_FAILED_LOGINS
from tests.storage.conftest import Clock
from tests.team.helpers import make_referral
from tests.web.conftest import COORDINATOR_PASSWORD, Web

SCRIPT = "<script>alert(1)</script>"


async def test_every_page_without_a_session_goes_to_sign_in(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7001)
    for path in ("/", "/referrals", "/counts", f"/referrals/{ref}", "/password"):
        response = await web.client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login"
    for path in ("/logout", f"/referrals/{ref}/status", f"/referrals/{ref}/contact"):
        response = await web.client.post(path, data={"csrf": "x", "action": "contacted"})
        assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (await store.referral(ref)).status == "new"  # type: ignore[union-attr]


async def test_a_coordinator_works_a_referral_through(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7002, source="flyer-sh01", lang="zh-Hans")
    other = await make_referral(store, 7003, source="clinic-02", lang="en")
    await web.coordinator()

    listing = await web.client.get("/referrals")
    assert listing.status_code == 200
    assert ref in listing.text and other in listing.text
    assert "王芳" not in listing.text  # the list shows no contact details
    filtered = await web.client.get("/referrals", params={"source": "clinic-02"})
    assert other in filtered.text and ref not in filtered.text
    by_lang = await web.client.get("/referrals", params={"lang": "zh-Hans", "status": "new"})
    assert ref in by_lang.text and other not in by_lang.text

    page = await web.client.get(f"/referrals/{ref}")
    assert page.status_code == 200
    assert "Likely eligible" in page.text or "Needs review" in page.text
    assert "130斤" in page.text  # the patient's own words beside the value
    assert "BMI" in page.text
    assert "王芳" not in page.text  # contact details take one more, audited, step
    shown = await web.post(f"/referrals/{ref}/contact", page)
    assert "王芳" in shown.text and "+86 138 0013 8000" in shown.text
    audit = await store.recent_audit()
    assert any(a.action == "web_contact_viewed" and a.subject == ref for a in audit)

    changed = await web.post(f"/referrals/{ref}/status", page, action="contacted", expected="new")
    assert changed.status_code == 200
    assert "Saved." in changed.text
    details = await store.referral(ref)
    assert details is not None and details.status == "contacted"
    assert details.acknowledged_at is not None
    assert "By li" in changed.text  # the history names the console account
    assert (await store.outbox_counts()).get("pending", 0) >= 1  # the patient's notice

    stale = await web.post(f"/referrals/{ref}/status", page, action="contacted", expected="new")
    assert "changed this referral meanwhile" in stale.text

    out = await web.post("/logout", changed)
    assert out.status_code == 303
    assert (await web.client.get("/referrals")).headers["location"] == "/login"


async def test_a_viewer_sees_counts_only(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7004)
    once = await web.accounts.add_user("zhao", "viewer")
    await web.sign_in("zhao", once)
    form = await web.client.get("/password")
    await web.post("/password", form, password="viewer-password-1")
    counts = await web.client.get("/counts")
    assert counts.status_code == 200 and "Handed off" in counts.text
    assert (await web.client.get("/referrals")).status_code == 403
    assert (await web.client.get(f"/referrals/{ref}")).status_code == 403
    contact = await web.post(f"/referrals/{ref}/contact", counts)
    assert contact.status_code == 403 and "王芳" not in contact.text
    status = await web.post(f"/referrals/{ref}/status", counts, action="contacted", expected="new")
    assert status.status_code == 403
    assert (await web.post("/export", counts)).status_code == 403
    assert (await store.referral(ref)).status == "new"  # type: ignore[union-attr]


async def test_a_form_without_its_csrf_token_is_refused(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7005)
    await web.coordinator()
    data = {"action": "contacted", "expected": "new"}
    refused = await web.client.post(f"/referrals/{ref}/status", data=data)
    assert refused.status_code == 403
    forged = await web.client.post(f"/referrals/{ref}/status", data={**data, "csrf": "forged"})
    assert forged.status_code == 403
    assert (await store.referral(ref)).status == "new"  # type: ignore[union-attr]
    web.client.cookies.clear()
    login = await web.client.post("/login", data={"name": "li", "password": COORDINATOR_PASSWORD})
    assert login.status_code == 403 and "console_session" not in login.cookies


async def test_a_patient_named_like_a_script_shows_as_text(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7006, name=SCRIPT, best_time=SCRIPT)
    await web.coordinator()
    page = await web.client.get(f"/referrals/{ref}")
    shown = await web.post(f"/referrals/{ref}/contact", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert "<script" not in shown.text
    assert "script-src" not in shown.headers["content-security-policy"]
    assert "default-src 'none'" in shown.headers["content-security-policy"]


async def test_ten_wrong_passwords_lock_the_account(web: Web, store: Store) -> None:
    await web.coordinator()
    web.client.cookies.clear()
    for attempt in range(MAX_FAILED_LOGINS):
        wrong = await web.sign_in("li", f"not-it-{attempt}")
        assert wrong.status_code in (401, 423)
    assert wrong.status_code == 423
    right = await web.sign_in("li", COORDINATOR_PASSWORD)
    assert right.status_code == 423 and "locked" in right.text
    assert "console_session" not in right.cookies
    once = await web.accounts.reset_user("li")
    assert (await web.sign_in("li", once)).status_code == 303


async def test_sign_in_is_rate_limited_per_address(web: Web) -> None:
    from bot.ratelimit import FloodGuard

    web.console.login_guard = FloodGuard(rate=0.001, burst=3)
    codes = [(await web.sign_in("nobody", "x")).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


async def test_sessions_expire_and_disabled_accounts_stop(
    web: Web, store: Store, clock: Clock
) -> None:
    await web.coordinator()
    assert (await web.client.get("/referrals")).status_code == 200
    clock.advance(hours=13)
    assert (await web.client.get("/referrals")).headers["location"] == "/login"
    assert (await web.sign_in("li", COORDINATOR_PASSWORD)).status_code == 303
    await web.accounts.disable_user("li")
    assert (await web.client.get("/referrals")).headers["location"] == "/login"
    assert (await web.sign_in("li", COORDINATOR_PASSWORD)).status_code == 401


async def test_cookies_are_http_only_same_site_and_headers_strict(web: Web) -> None:
    await web.accounts.add_user("li", "coordinator")
    page = await web.client.get("/login")
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_cookies_are_secure_behind_https(store: Store, settings, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from tests.web.conftest import make_web

    secure = settings.model_copy(update={"web_base_url": "https://console.example.org"})
    web = make_web(store, secure, clock)
    page = await web.client.get("/login")
    assert "secure" in page.headers["set-cookie"].lower()
    await web.client.aclose()


async def test_times_are_in_the_hospital_time_zone(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7007)  # made at 09:00 UTC by the test clock
    await web.coordinator()
    page = await web.client.get(f"/referrals/{ref}")
    assert "Jan 5, 2026, 5:00\u202fPM" in page.text  # Babel's English, in Shanghai time


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_console_speaks_the_team_language(store: Store, settings, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from tests.web.conftest import make_web

    chinese = make_web(store, settings.model_copy(update={"team_language": "zh-Hans"}), clock)
    page = await chinese.client.get("/login")
    assert '<html lang="zh-Hans" dir="ltr">' in page.text
    assert "登录" in page.text and "Sign in" not in page.text
    await chinese.client.aclose()
    arabic = make_web(store, settings.model_copy(update={"team_language": "ar"}), clock)
    page = await arabic.client.get("/login")
    assert 'dir="rtl"' in page.text and "تسجيل الدخول" in page.text
    await arabic.client.aclose()


async def test_team_commands_make_and_stop_accounts(settings) -> None:  # type: ignore[no-untyped-def]
    from bot.__main__ import build_parser
    from bot.web.server import team_command

    out = await team_command(settings, "add-user", "wang", "coordinator")
    assert "one-time password" in out
    assert out.rsplit(": ", 1)[1] not in str(settings.database_url)
    with pytest.raises(ValueError, match="already"):
        await team_command(settings, "add-user", "wang", "viewer")
    assert "disabled" in await team_command(settings, "disable-user", "wang", None)
    with pytest.raises(ValueError, match="no account"):
        await team_command(settings, "reset-user", "nobody", None)
    args = build_parser().parse_args(["team", "add-user", "zhou", "--role", "viewer"])
    assert (args.team_command, args.name, args.role) == ("add-user", "zhou", "viewer")


async def test_the_funnel_by_language_and_source_is_drawn_in_the_page(
    web: Web, store: Store
) -> None:
    await make_referral(store, 7010, lang="zh-Hans", source="flyer-sh01")
    await make_referral(store, 7011, lang="en", source="flyer-sh01")
    await make_referral(store, 7012, lang="en", source="clinic-02")
    await web.coordinator()
    page = await web.client.get("/counts")
    assert page.status_code == 200
    assert page.text.count("<svg") == 2 + 2  # two languages, two sources
    assert "By outreach source" in page.text and "clinic-02" in page.text
    handed_off = re.findall(r"<th scope=\"row\">Handed off</th>(.*?)</tr>", page.text)
    by_language, by_source = (re.findall(r">(\d+)</td>", row) for row in handed_off)
    assert by_language == ["2", "1"]  # English, then Chinese
    assert by_source == ["2", "1"]  # the flyer, then the clinic


async def test_the_export_is_the_guarded_csv_and_is_audited(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7013, name='=HYPERLINK("http://x")')
    await web.coordinator()
    listing = await web.client.get("/referrals")
    refused = await web.client.post("/export")
    assert refused.status_code == 403
    response = await web.post("/export", listing)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8-sig")
    assert ref in text
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text and ',"=HYPERLINK' not in text
    audit = await store.recent_audit()
    assert any(a.action == "web_export" for a in audit)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_console_serves_over_tcp_until_stopped(settings) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import socket

    import httpx

    from bot.web.server import serve_web

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts them
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    running = asyncio.create_task(serve_web(settings, stop, sock=sock))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        page = await client.get("/login")
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
    stop.set()
    await asyncio.wait_for(running, 10)
    sock.close()
