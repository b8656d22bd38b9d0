"""Templates translate every string through the page's translations, looked up once per page."""
from types import SimpleNamespace

from flask import render_template_string

import academy

PAGE = ("{% from '_macros.html' import form_errors %}"
        "{{ _('Sign in') }} | {{ _('Hello %(name)s', name='<b>') }}"
        " | {{ ngettext('%(num)d person', '%(num)d people', 2) }} | {{ pgettext('menu', 'Open') }}"
        " | {{ npgettext('menu', '%(num)d item', '%(num)d items', 1) }} | {{ form_errors(form) }}")


class Marked:
    """Translations that mark every message they translate."""

    def ugettext(self, string):
        return f"T:{string}"

    def ungettext(self, singular, plural, n):
        return f"T:{singular if n == 1 else plural}"

    def upgettext(self, kind, string):
        return f"T:{kind}/{string}"

    def unpgettext(self, kind, singular, plural, n):
        return f"T:{kind}/{singular if n == 1 else plural}"


def test_templates_translate_through_the_translations_of_the_page(app, monkeypatch):
    looked_up = []
    monkeypatch.setattr(academy, "get_translations", lambda: looked_up.append(1) or Marked())
    with app.test_request_context():
        page = render_template_string(PAGE, form=SimpleNamespace(errors={"email": ["missing"]}))
    assert [part.strip() for part in page.split("|")][:5] == [
        "T:Sign in", "T:Hello &lt;b&gt;", "T:2 people", "T:menu/Open", "T:menu/1 item"]
    assert "T:Please correct the highlighted fields." in page  # a macro imported without the page's context
    assert len(looked_up) == 2  # once for the page, once for the macro's one string
