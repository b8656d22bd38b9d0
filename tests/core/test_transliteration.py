"""Serbian Latin made from the Cyrillic (academy/core/transliteration.py)."""
import pytest

from academy.core.transliteration import to_latin

pytestmark = pytest.mark.no_database  # a pure function: the same answer on every database


def test_letters_become_latin_and_the_two_letter_ones_stay_one_sound():
    assert to_latin("Љубљана, Џеп, њива, Ђорђе, Шћепановић") == "Ljubljana, Džep, njiva, Đorđe, Šćepanović"


def test_format_fields_markup_digits_and_latin_text_pass_unchanged():
    message = 'Здраво, %(name)s: {count} <a href="/courses/intro">курсева</a> (§4.5, CIRT.ME)'
    assert to_latin(message) == 'Zdravo, %(name)s: {count} <a href="/courses/intro">kurseva</a> (§4.5, CIRT.ME)'
