"""Which language a request is answered in: the matching table, the order of the choices, the switcher."""

import pytest

from academy.core import locales
from academy.extensions import db

# Accept-Language range → the academy's locale (None: not one of ours; the next range, or English, answers).
TABLE = [
    ("sr-Latn", "sr-Latn"), ("sr-Latn-RS", "sr-Latn"), ("sr-Latn-BA", "sr-Latn"), ("sr-latn-xk", "sr-Latn"),
    ("sr", "sr-Cyrl"), ("sr-RS", "sr-Cyrl"), ("sr-BA", "sr-Cyrl"), ("sr-XK", "sr-Cyrl"), ("sr-Cyrl", "sr-Cyrl"),
    ("sr-Cyrl-RS", "sr-Cyrl"), ("sr-Cyrl-ME", "sr-Cyrl"),
    ("cnr", "cnr"), ("cnr-ME", "cnr"), ("sr-ME", "cnr"), ("sr-Latn-ME", "cnr"), ("CNR-me", "cnr"),
    ("hr", "hr"), ("hr-HR", "hr"), ("hr-BA", "hr"),
    ("bs", "bs"), ("bs-BA", "bs"), ("bs-Latn-BA", "bs"), ("bs-Cyrl", None), ("bs-Cyrl-BA", None),
    ("sq", "sq"), ("sq-AL", "sq"), ("sq-XK", "sq"), ("sq-MK", "sq"),
    ("mk", "mk"), ("mk-MK", "mk"), ("mk-Latn", None),
    ("en", "en"), ("en-GB", "en"), ("en-US", "en"),
    ("de-DE", None), ("sh", None), ("*", None), ("", None),
]


@pytest.mark.parametrize(("language_range", "expected"), TABLE)
def test_each_language_range_finds_its_locale_and_never_another_script(language_range, expected):
    assert locales.tag_for_range(language_range) == expected


@pytest.mark.parametrize(("header", "expected"), [
    ("bs-Cyrl, sr-Cyrl;q=0.8, en;q=0.5", "sr-Cyrl"),  # no Bosnian Cyrillic: the next Cyrillic, not Latin Bosnian
    ("de-DE, de;q=0.9, hr;q=0.7", "hr"),
    ("en;q=0.3, mk", "mk"),  # by quality, not by position
    ("sq;q=0, mk;q=0.5", "mk"),  # q=0: not wanted
    ("fr, de", None),
    ("sr-ME;q=0.9, sr-Latn;q=0.9", "cnr"),  # equal quality: the order of the header
    (None, None),
    ("garbage;;q=abc, sq", "sq"),
])
def test_accept_language_is_read_in_its_order_of_preference(header, expected):
    assert locales.match(header) == expected


def test_the_order_is_account_then_remembered_then_browser_then_country_then_english():
    def choose(**kwargs):
        return locales.choose(**{"saved": None, "remembered": None, "accept_language": None, "country": None, **kwargs})

    assert choose(saved="mk", remembered="sq", accept_language="hr", country="RS") == "mk"
    assert choose(remembered="sq", accept_language="hr", country="RS") == "sq"
    assert choose(accept_language="hr", country="RS") == "hr"
    assert choose(accept_language="fr", country="ME") == "cnr"
    assert choose(accept_language="fr") == "en"
    assert choose(saved="xx", remembered="SR-latn") == "sr-Latn"  # an unknown saved value is passed over


def test_the_page_says_its_language_in_html_lang_and_content_language(client):
    page = client.get("/", headers={"Accept-Language": "sr-Latn-RS, en;q=0.5"})
    assert '<html lang="sr-Latn">' in page.text
    assert page.headers["Content-Language"] == "sr-Latn"
    assert 'lang="sq">Shqip</option>' in page.text and 'lang="mk">Македонски</option>' in page.text
    montenegrin = client.get("/", headers={"Accept-Language": "cnr-ME"})
    assert '<html lang="cnr">' in montenegrin.text
    assert montenegrin.headers["Content-Language"] == "cnr"


def test_a_visitor_switches_and_the_choice_is_remembered_without_a_session(client):
    response = client.post("/account/language", data={"language": "mk", "next": "/account/login"})
    assert response.status_code == 302 and response.headers["Location"] == "/account/login"
    assert "session=" not in response.headers.get("Set-Cookie", "").split("academy_language")[0]
    page = client.get("/account/login", headers={"Accept-Language": "sq"})
    assert '<html lang="mk">' in page.text


def test_a_signed_in_choice_is_saved_on_the_account(client, auth, world):
    auth.as_user(world.learner)
    page = client.get("/learning")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/account/language", data={"language": "sr-Cyrl", "next": "/learning",
                                                      "csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(world.learner)
    assert world.learner.locale == "sr-Cyrl"
    client.delete_cookie("academy_language")
    assert '<html lang="sr-Cyrl">' in client.get("/learning", headers={"Accept-Language": "en"}).text


def test_a_signed_in_switch_without_its_csrf_token_changes_nothing(app, client, auth, world):
    app.config["WTF_CSRF_ENABLED"] = True
    auth.as_user(world.learner)
    response = client.post("/account/language", data={"language": "sq", "next": "/learning"})
    assert response.status_code == 400
    db.session.refresh(world.learner)
    assert world.learner.locale is None


def switcher(page: str) -> str:
    return page.split('class="language-switcher', 1)[1].split("</form>", 1)[0]


def test_the_switcher_is_kept_once_rendered_but_comes_back_to_each_page_with_its_own_token(app, client, auth, world):
    app.config["WTF_CSRF_ENABLED"] = True
    visitor = switcher(client.get('/account/login?next=/a"<b>').text)
    assert 'name="next" value="/account/login?next=/a&#34;&lt;b&gt;"' in visitor  # the page's own address, escaped
    assert "csrf_token" not in visitor  # a visitor's switch opens no session
    assert "\x00" not in visitor
    assert 'name="next" value="/account/reset"' in switcher(client.get("/account/reset").text)
    auth.as_user(world.learner)
    pages = {path: client.get(path).text for path in ("/learning", "/account/")}
    for path, page in pages.items():
        form = switcher(page)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]  # the page's first form: its token
        assert f'name="next" value="{path}"' in form and f'name="csrf_token" value="{token}"' in form
    assert '<option value="en" lang="en" selected>' in switcher(pages["/learning"])
    client.post("/account/language", data={"language": "mk", "next": "/learning", "csrf_token": token})
    assert '<option value="mk" lang="mk" selected>' in switcher(client.get("/learning").text)


def test_an_unknown_language_or_an_outside_address_changes_nothing(client):
    response = client.post("/account/language", data={"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "academy_language" not in response.headers.get("Set-Cookie", "")


def test_a_person_whose_browser_names_none_of_ours_gets_the_country_default(client, auth, world):
    world.learner.institution.country = db.session.scalar(
        db.select(type(world.learner.institution.country)).where(type(world.learner.institution.country).code == "ME")
    )
    db.session.commit()
    auth.as_user(world.learner)
    assert '<html lang="cnr">' in client.get("/learning", headers={"Accept-Language": "fr"}).text
    assert '<html lang="en">' in client.get("/learning", headers={"Accept-Language": "en"}).text
