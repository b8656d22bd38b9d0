"""The whole learner journey in a real browser: register, enrol, read, fail then pass, certificate, verify."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from academy.extensions import db
from academy.learning.sync import sync_content
from tests.content_fixture import ContentFolder

pytestmark = pytest.mark.browser

RIGHT = {
    "When was the Budapest Convention": ("radio", ["2001"]),
    "Which of these are countries": ("check", ["Albania", "Serbia"]),
    "The NIS Directive was adopted": ("radio", ["True"]),
    "Put these in order": ("order", ["first", "second", "third"]),
    "Match each country": ("match", {"Montenegro": "CIRT.ME", "Albania": "ALCIRT", "Croatia": "CERT.hr"}),
    "Filler question": ("radio", ["right"]),
}
WRONG = {
    "When was the Budapest Convention": ("radio", ["1981"]),
    "Which of these are countries": ("check", ["Austria"]),
    "The NIS Directive was adopted": ("radio", ["False"]),
    "Put these in order": ("order", ["third", "second", "first"]),
    "Match each country": ("match", {"Montenegro": "ALCIRT", "Albania": "CIRT.ME", "Croatia": "CERT.hr"}),
    "Filler question": ("radio", ["wrong"]),
}


def answer_every_question(page, answers):
    fieldsets = page.locator("fieldset")
    expect(page.get_by_role("button", name="Submit answers")).to_be_visible()  # count() does not wait for the page
    for index in range(fieldsets.count()):
        fieldset = fieldsets.nth(index)
        legend = fieldset.locator("legend").inner_text()
        kind, values = next(v for prompt, v in answers.items() if prompt in legend)
        if kind in ("radio", "check"):
            for value in values:
                fieldset.get_by_label(value, exact=True).check()
        elif kind == "order":
            for position, item in enumerate(values, start=1):
                fieldset.get_by_label(f"Position of “{item}”").select_option(str(position))
        else:
            for left, right in values.items():
                fieldset.get_by_label(left, exact=True).select_option(label=right)
    page.get_by_role("button", name="Submit answers").click()


def test_register_enrol_read_fail_pass_download_and_verify(open_context, page, live_world, tmp_path):
    sync_content(ContentFolder(tmp_path / "content").folder)
    db.session.commit()

    page.goto("/account/register")
    page.get_by_label("Invitation code").fill(live_world.institution_a.invitation_code)
    page.get_by_label("Full name").fill("Arta Learner")
    page.get_by_label("Work e-mail address").fill("arta@a.org")
    page.get_by_label("Professional track").select_option("cert")
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Repeat the password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()

    page.get_by_role("link", name="Browse the courses for your track").click()
    page.get_by_role("link", name="An introduction").click()
    page.get_by_role("button", name="Enrol").click()
    expect(page.get_by_text("You are enrolled in")).to_be_visible()

    page.get_by_role("link", name="Start the course").click()
    expect(page.get_by_role("heading", name="The first lesson")).to_be_visible()
    page.get_by_role("button", name="Mark as done and continue").click()
    expect(page.get_by_role("heading", name="The second lesson")).to_be_visible()
    expect(page.locator(".lesson-body table")).to_be_visible()
    page.get_by_role("button", name="Mark as done and continue").click()

    expect(page.get_by_role("button", name="Start the quiz")).to_be_visible()
    page.get_by_role("button", name="Start the quiz").click()
    answer_every_question(page, WRONG)
    expect(page.get_by_text("Not passed")).to_be_visible()
    expect(page.get_by_text("§3.1").first).to_be_visible()

    page.get_by_role("button", name="Retake the quiz").click()
    answer_every_question(page, RIGHT)
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()

    page.get_by_role("link", name="An introduction").first.click()
    expect(page.get_by_text("Course complete.")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download certificate (PDF)").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    code = download_info.value.suggested_filename.removeprefix("certificate-").removesuffix(".pdf")

    public = open_context().new_page()
    public.goto(f"/verify/{code.lower()}")
    expect(public.get_by_role("heading", name="Valid certificate")).to_be_visible()
    expect(public.get_by_text("Arta Learner")).to_be_visible()
