"""Each console account's own language, on SQLite and PostgreSQL: the header's switch, every
page in that language (words, statuses, criteria, dates, the funnel, the flow), the refusals,
``team add-user --language``, right-to-left Arabic, and the sign-in page before an account."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from bot.config import Settings
from bot.i18n import LANGUAGES, get_catalogs
from bot.storage import Store
from bot.team.cards import TeamTexts
from bot.team.stats import stage_labels
from bot.web.flowsteps import flow_page
from bot.web.languages import from_accept_language
from bot.web.texts import labels
from tests.storage.conftest import Clock
from tests.team.helpers import make_referral
from tests.web.conftest import COORDINATOR_PASSWORD, Web, csrf_of, make_web

ZH = "zh-Hans"
SVG = re.compile(r"<svg class=\"funnel\".*?</svg>", re.S)


def words(lang: str) -> dict[str, str]:
    return labels(get_catalogs().get(lang))


def html_lang(page: httpx.Response) -> tuple[str, str]:
    found = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page.text)
    assert found, page.text[:200]
    return found.group(1), found.group(2)


async def switch(web: Web, page: httpx.Response, language: str, back: str) -> httpx.Response:
    return await web.post("/language", page, language=language, next=back)


async def test_a_coordinator_switches_to_chinese_and_every_page_follows(
    web: Web, store: Store, settings: Settings, clock: Clock
) -> None:
    ref = await make_referral(store, 7601, lang="en", source="flyer-sh01")
    await web.coordinator("li")
    listing = await web.client.get("/referrals", params={"status": "new"})
    assert html_lang(listing) == ("en", "ltr")
    for own_name in ("English", "简体中文", "繁體中文", "Español", "Русский", "العربية"):
        assert f">{own_name}</option>" in listing.text  # each language named in itself
    assert 'name="next" value="/referrals?status=new"' in listing.text

    moved = await switch(web, listing, ZH, "/referrals?status=new")
    assert moved.status_code == 303 and moved.headers["location"] == "/referrals?status=new"
    zh, team = words(ZH), TeamTexts(ZH)

    listing = await web.client.get("/referrals")
    assert html_lang(listing) == (ZH, "ltr")
    assert f"<h1>{zh['referrals']}</h1>" in listing.text and "Sign out" not in listing.text
    assert team.status("new") in listing.text and team.language("en") in listing.text
    assert "2026年1月5日 17:00" in listing.text  # Babel's Chinese date, hospital time
    assert '<option value="zh-Hans" lang="zh-Hans" selected>' in listing.text

    page = await web.client.get(f"/referrals/{ref}")
    details = await store.referral(ref)
    assert details is not None
    for _cid, title, _verdict in team.verdicts(details):
        assert html.escape(title) in page.text  # the flow's criteria, in Chinese
    assert zh["change_status"] in page.text and "Change the status" not in page.text

    counts = await web.client.get("/counts")
    drawn = "".join(SVG.findall(counts.text))
    assert stage_labels(team)["handed_off"] in drawn and "Handed off" not in counts.text

    flow = await web.client.get("/flow")
    steps = flow_page(settings.flow, team)
    assert html.escape(steps.steps[1].title) in flow.text and zh["flow_help"] in flow.text

    audit = [a for a in await store.recent_audit() if a.action == "web_language_set"]
    assert [a.detail for a in audit] == [{"from": None, "to": ZH}]  # no personal data
    assert audit[0].actor_hash and "li" not in audit[0].actor_hash

    other = make_web(store, settings, clock)  # another account, in another browser
    try:
        await other.coordinator("wang")
        theirs = await other.client.get("/referrals")
        assert html_lang(theirs) == ("en", "ltr") and "<h1>Referrals</h1>" in theirs.text
    finally:
        await other.client.aclose()

    await web.post("/logout", listing)
    again = await web.sign_in("li", COORDINATOR_PASSWORD)
    assert again.status_code == 303
    assert html_lang(await web.client.get("/referrals")) == (ZH, "ltr")  # kept on the account


async def test_a_switch_without_its_csrf_token_is_refused(web: Web, store: Store) -> None:
    await web.coordinator("li")
    refused = await web.client.post("/language", data={"language": ZH, "next": "/counts"})
    assert refused.status_code == 403
    forged = await web.client.post("/language", data={"language": ZH, "csrf": "forged"})
    assert forged.status_code == 403
    assert html_lang(await web.client.get("/counts")) == ("en", "ltr")
    actions = [a.action for a in await store.recent_audit()]
    assert actions.count("web_csrf_refused") == 2 and "web_language_set" not in actions


async def test_an_unknown_language_is_refused_with_a_clear_line(web: Web, store: Store) -> None:
    await web.coordinator("li")
    page = await web.client.get("/counts")
    for unknown in ("fr", "zh-hans", "", "<b>"):
        refused = await switch(web, page, unknown, "/counts")
        assert refused.status_code == 400
        assert words("en")["unknown_language"] in refused.text
    assert "<b>" not in refused.text.split("<main>")[1]
    assert html_lang(await web.client.get("/counts")) == ("en", "ltr")
    assert "web_language_set" not in [a.action for a in await store.recent_audit()]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_switch_goes_back_to_a_page_of_the_console_only(web: Web) -> None:
    await web.coordinator("li")
    page = await web.client.get("/counts")
    for outside in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "counts"):
        moved = await switch(web, page, "es", outside)
        assert moved.status_code == 303 and moved.headers["location"] == "/"
    ref_page = await web.client.get("/flow")
    moved = await switch(web, ref_page, "ru", "/flow")
    assert moved.headers["location"] == "/flow"


async def test_team_add_user_sets_the_language_and_refuses_an_unknown_one(
    settings: Settings, web: Web
) -> None:
    from bot.__main__ import build_parser
    from bot.web.accounts import AccountError
    from bot.web.server import team_command

    out = await team_command(settings, "add-user", "chen", "coordinator", language=ZH)
    once = out.rsplit(": ", 1)[1]
    with pytest.raises(AccountError, match=r"language must be one of en, zh-Hans, .*, ar$"):
        await team_command(settings, "add-user", "dupont", "viewer", language="fr")
    with pytest.raises(AccountError, match="no account"):
        await team_command(settings, "reset-user", "dupont", None)  # nothing was made
    first = await web.sign_in("chen", once)
    assert first.headers["location"] == "/password"
    choose = await web.client.get("/password")
    assert html_lang(choose) == (ZH, "ltr") and words(ZH)["new_password"] in choose.text
    moved = await switch(web, choose, "es", "/password")  # allowed before the password
    assert moved.headers["location"] == "/password"
    assert html_lang(await web.client.get("/password")) == ("es", "ltr")
    args = build_parser().parse_args(
        ["team", "add-user", "zhou", "--role", "viewer", "--language", "ar"]
    )
    assert (args.name, args.role, args.language) == ("zhou", "viewer", "ar")
    assert build_parser().parse_args(["team", "disable-user", "zhou"]).language is None


async def test_an_arabic_account_reads_right_to_left(web: Web, store: Store) -> None:
    ref = await make_referral(store, 7602, name="ليلى الحسيني")
    once = await web.accounts.add_user("amal", "coordinator", "ar")
    await web.sign_in("amal", once)
    form = await web.client.get("/password")
    assert html_lang(form) == ("ar", "rtl")
    await web.post("/password", form, password=COORDINATOR_PASSWORD)
    page = await web.client.get(f"/referrals/{ref}")
    assert html_lang(page) == ("ar", "rtl")
    assert words("ar")["show_contact"] in page.text and TeamTexts("ar").status("new") in page.text
    assert "5:00 م" in page.text  # 17:00 in Shanghai, written the Arabic way
    shown = await web.post(f"/referrals/{ref}/contact", page)
    assert "<bdi>ليلى الحسيني</bdi>" in shown.text


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_sign_in_page_follows_the_browser_else_the_team_language(
    store: Store, settings: Settings, clock: Clock
) -> None:
    web = make_web(store, settings.model_copy(update={"team_language": ZH}), clock)
    try:
        russian = await web.client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
        assert html_lang(russian) == ("ru", "ltr") and words("ru")["sign_in"] in russian.text
        assert russian.headers["vary"] == "Accept-Language"
        french = await web.client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
        assert html_lang(french) == (ZH, "ltr")  # nothing the catalogs have: the team's
        plain = await web.client.get("/login")
        assert html_lang(plain) == (ZH, "ltr")
        once = await web.accounts.add_user("li", "coordinator")
        token = csrf_of(plain)
        data = {"csrf": token, "name": "li", "password": once}
        await web.client.post("/login", data=data, headers={"Accept-Language": "ru"})
        signed = await web.client.get("/password", headers={"Accept-Language": "ru"})
        assert html_lang(signed) == (ZH, "ltr")  # signed in: the account's, not the browser's
    finally:
        await web.client.aclose()


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("fr-FR,fr;q=0.9,zh-CN;q=0.8", "zh-Hans"),
        ("zh-TW", "zh-Hant"),
        ("de;q=1, ar;q=0.2, es;q=0.5", "es"),
        ("en-GB", "en"),
        ("ru;q=0, *", "team"),
        ("q=;;,", "team"),
        ("", "team"),
    ],
)
def test_accept_language_is_read_by_preference(header: str, chosen: str) -> None:
    assert from_accept_language(header, "team") == chosen


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_words_of_each_language_are_built_once(
    web: Web, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.web.texts

    built: list[str] = []
    original = bot.web.texts.labels
    monkeypatch.setattr(bot.web.texts, "labels", lambda t: built.append(t.lang) or original(t))
    assert set(web.console.languages) == set(LANGUAGES)
    await web.coordinator("li")
    for lang in ("ar", ZH, "en"):
        page = await web.client.get("/counts")
        await switch(web, page, lang, "/counts")
        assert html_lang(await web.client.get("/flow"))[0] == lang
    assert built == []  # every page used the texts made when the console started
