"""Absolute links come from PUBLIC_URL, and requests for any other host are refused (TRUSTED_HOSTS)."""
import pytest
from flask import request

from academy import create_app
from academy.config import Config, ConfigError
from academy.core.urls import absolute_url
from tests.conftest import EVIL_HOST, build_settings

PRODUCTION = {"ACADEMY_ENV": "production", "SECRET_KEY": "s" * 32}


def test_production_refuses_to_start_without_a_public_url():
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        Config.from_environ(PRODUCTION)


@pytest.mark.parametrize("url", ["academy.example.org", "ftp://academy.example.org", "https://",
                                 "https://academy.example.org/?next=x"])
def test_a_public_url_that_is_not_an_http_address_is_refused(url):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        Config.from_environ({"PUBLIC_URL": url})


def test_trusted_hosts_are_the_public_urls_and_allowed_hosts():
    settings = Config.from_environ({**PRODUCTION, "PUBLIC_URL": "https://Academy.Example.org/training/",
                                    "ALLOWED_HOSTS": "academy.internal, 10.0.0.5"})
    assert settings["PUBLIC_URL"] == "https://Academy.Example.org/training"
    assert settings["TRUSTED_HOSTS"] == ["academy.example.org", "academy.internal", "10.0.0.5"]


def test_development_serves_the_local_address_under_either_loopback_name():
    settings = Config.from_environ({})
    assert settings["PUBLIC_URL"] == "http://127.0.0.1:5000"
    assert settings["TRUSTED_HOSTS"] == ["127.0.0.1", "localhost"]


@pytest.mark.parametrize("path", ["/account/login", "/api/v1/courses", "/healthz"])
def test_a_request_for_another_host_answers_400(client, path):
    response = client.get(path, headers={"Host": EVIL_HOST})
    assert response.status_code == 400
    assert EVIL_HOST not in response.get_data(as_text=True) or response.is_json


def test_a_trusted_host_is_served_on_any_port(client):
    for host in ("localhost", "localhost:8123", "127.0.0.1:49152"):
        assert client.get("/account/login", headers={"Host": host}).status_code == 200, host


def test_a_forwarded_host_is_not_believed_behind_the_proxy():
    app = create_app(build_settings(PROXY_FIX=1))
    seen = []
    app.before_request(lambda: seen.append((request.host, request.scheme)))
    response = app.test_client().get("/account/login", headers={"X-Forwarded-Host": EVIL_HOST,
                                                                "X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert seen == [("localhost", "https")]  # the protocol still comes from the proxy


@pytest.mark.parametrize("public,expected", [
    ("http://localhost", "http://localhost/verify/ABCD-EFGH-JKLM#top"),
    ("https://academy.example.org/training", "https://academy.example.org/training/verify/ABCD-EFGH-JKLM#top"),
    ("https://academy.example.org:8443", "https://academy.example.org:8443/verify/ABCD-EFGH-JKLM#top"),
])
def test_absolute_links_are_built_on_the_public_url_with_or_without_a_request(public, expected):
    app = create_app(build_settings(PUBLIC_URL=public, TRUSTED_HOSTS=None))
    with app.app_context():  # a job has no request
        assert absolute_url("learning.verify", code="ABCD-EFGH-JKLM", _anchor="top") == expected
    with app.test_request_context("/", base_url=f"https://{EVIL_HOST}/elsewhere"):
        assert absolute_url("learning.verify", code="ABCD-EFGH-JKLM", _anchor="top") == expected
