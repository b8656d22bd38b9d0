"""Accounts in a real browser: register with a code, sign out and in, manager and admin pages."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.steps import open_menu, sign_in

pytestmark = pytest.mark.browser


def test_register_sign_out_and_sign_in_again(page, live_world):
    page.goto("/")
    page.get_by_role("link", name="Register with an invitation code").click()
    page.get_by_label("Invitation code").fill("WRONGCODE1")
    page.get_by_label("Full name").fill("Vesna Analyst")
    page.get_by_label("Work e-mail address").fill("vesna@a.org")
    page.get_by_label("Professional track").select_option("cert")
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Repeat the password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("This invitation code is not valid")).to_be_visible()

    page.get_by_label("Invitation code").fill(live_world.institution_a.invitation_code)
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Repeat the password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Welcome, Vesna Analyst")).to_be_visible()

    open_menu(page, "Vesna Analyst")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()

    sign_in(page, "vesna@a.org", "a long enough passphrase")
    expect(page.get_by_text("Welcome back, Vesna Analyst.")).to_be_visible()


def test_manager_sees_staff_and_admin_rotates_code(page, live_world):
    sign_in(page, "manager@a.org")
    page.get_by_role("link", name="My institution").click()
    expect(page.get_by_role("heading", name="Ministry A")).to_be_visible()
    page.get_by_role("link", name="Staff and invitation code").click()
    expect(page.get_by_role("cell", name="learner@a.org")).to_be_visible()
    old_code = page.get_by_test_id("invitation-code").inner_text()
    page.get_by_role("button", name="Rotate").click()
    expect(page.get_by_text("The previous code no longer works.")).to_be_visible()
    assert page.get_by_test_id("invitation-code").inner_text() != old_code

    page.context.clear_cookies()
    sign_in(page, "admin@academy.org")
    open_menu(page, "Administration")
    page.get_by_role("link", name="Audit log").first.click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.get_by_role("cell", name="Invitation code rotated")).to_be_visible()
    page.get_by_label("Action").select_option("login.success")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=login.success"))
    expect(page.get_by_role("cell", name="Invitation code rotated")).to_have_count(0)
