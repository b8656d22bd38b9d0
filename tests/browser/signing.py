"""Signing in as a person does, in every browser journey."""
from tests import factories


def sign_in(page, email, password=factories.PASSWORD):
    """Fill the sign-in form (by the fields' names, so in any language) and wait until the next page has loaded.

    Loaded means its scripts have run: a menu clicked while the page still fetches Bootstrap follows its "#" link
    instead of opening, and a form sent before the page's script is there is sent without it."""
    page.goto("/account/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda address: "/account/login" not in address, wait_until="load")
