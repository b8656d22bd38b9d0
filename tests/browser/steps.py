"""Steps of the browser journeys done as a person does them, waiting for what a person waits for."""
from playwright.sync_api import expect

from tests import factories


def sign_in(page, email, password=factories.PASSWORD):
    """Fill the sign-in form (by the fields' names, so in any language) and wait until the next page has loaded."""
    page.goto("/account/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda address: "/account/login" not in address, wait_until="load")


def open_menu(page, name: str) -> None:
    """Open a menu of the header once the page's scripts have run: clicked while the page still fetches Bootstrap,
    a menu's button follows its "#" link instead of opening (the page looks ready before its last script runs)."""
    page.wait_for_load_state("load")
    toggle = page.get_by_role("button", name=name)
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
