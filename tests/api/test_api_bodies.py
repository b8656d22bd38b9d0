"""Every JSON body the API takes, sent nested thousands deep, with numbers of thousands of digits and with control
characters and lone surrogates in its strings: never a 5xx, always the API's one error shape.

schemathesis (test_api_fuzz.py) sends what the OpenAPI document describes; these bodies are what it cannot describe:
what Python's json module turns into a RecursionError or a ValueError, and strings no database can store."""
import json

import hypothesis
import pytest
from hypothesis import HealthCheck
from hypothesis import strategies as st

from academy import create_app
from tests import factories
from tests.api.test_api import assert_error_shape, bearer
from tests.conftest import build_settings


def _operations_with_a_body() -> list[tuple[str, str]]:
    spec = create_app(build_settings()).test_client().get("/api/v1/openapi.json").get_json()
    return [(method.upper(), path.replace("{", "").replace("}", ""))  # a path parameter named x becomes "x"
            for path, item in spec["paths"].items() for method, operation in item.items()
            if isinstance(operation, dict) and "requestBody" in operation]


OPERATIONS = _operations_with_a_body()
# Text with C0 controls, DEL, lone surrogates (json.dumps writes them as \ud800 escapes; two high ones never pair)
# and ordinary characters; joined from a list, since st.text() leaves surrogates out.
ODD_TEXT = st.lists(st.one_of(st.characters(max_codepoint=0x1F), st.sampled_from(["\x7f", "\ud800", "\udbff"]),
                              st.characters()), min_size=1, max_size=30).map("".join)
FIELDS = ("email", "password", "name")


@st.composite
def deep(draw) -> str:
    depth = draw(st.integers(500, 5000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a": ', "}")]))
    return opener * depth + "1" + closer * depth


@st.composite
def huge_number(draw) -> str:
    digits = "9" * draw(st.integers(4301, 200_000))
    return draw(st.sampled_from(["", "-"])) + digits + draw(st.sampled_from(["", ".5", "e5"]))


def plain(values) -> st.SearchStrategy[str]:
    return values.map(lambda value: json.dumps(value))


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ODD_TEXT,
                           lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(ODD_TEXT, children, max_size=3), max_leaves=10)
ODD_VALUE = st.one_of(plain(ODD_TEXT), plain(JSON_VALUES), deep(), huge_number())


@st.composite
def body(draw) -> str:
    """A whole body that is odd, or the fields of a real request with one or two of them odd: the others valid, so
    that the odd one is not refused with them before it reaches the view."""
    if draw(st.integers(0, 3)) == 0:
        return draw(ODD_VALUE)
    fields = {"email": json.dumps("manager@a.org"), "password": json.dumps(factories.PASSWORD),
              "name": json.dumps("HR system")}
    for name in draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=2, unique=True)):
        fields[name] = draw(ODD_VALUE)
    return "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"


def _token_request(**odd) -> str:
    return json.dumps({"email": "manager@a.org", "password": factories.PASSWORD, "name": "HR system", **odd})


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@hypothesis.settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                             HealthCheck.too_slow, HealthCheck.data_too_large])
@hypothesis.given(data=body())
# What the first runs found, kept whatever the generator draws next.
@hypothesis.example(data="[" * 3000 + "]" * 3000)
@hypothesis.example(data='{"email": "manager@a.org", "password": ' + "1" * 1_000_000 + "}")
@hypothesis.example(data=_token_request(password="\ud800"))
@hypothesis.example(data=_token_request(name="\ud800"))
@hypothesis.example(data=_token_request(name="HR\x0bsystem"))
def test_odd_json_bodies_get_4xx_in_the_error_shape(client, world, method, path, data):
    token = factories.make_token(world.admin)
    response = client.open(path, method=method, data=data, content_type="application/json", headers=bearer(token))
    assert response.status_code < 500, data[:200]
    if response.status_code >= 400:
        assert_error_shape(response, response.status_code)


def test_the_body_operations_are_found():
    assert ("POST", "/api/v1/auth/token") in OPERATIONS
