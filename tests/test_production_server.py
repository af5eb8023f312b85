"""Served as in production (gunicorn, settings_production, DEBUG off): the admin answers, WhiteNoise
serves its stylesheets under hashed names for browsers to keep, and an unknown URL is a bare 404."""

import re

import requests

FAR_FUTURE = 10 * 365 * 24 * 3600  # WhiteNoise's max-age for a file whose name carries its hash


def test_the_admin_login_page_loads(production_server):
    answer = requests.get(f"{production_server.url}/admin/login/", timeout=10)

    assert answer.status_code == 200
    assert answer.headers["Server"] == "gunicorn"
    assert '<input type="password"' in answer.text


def test_the_admin_stylesheet_is_served_under_its_hashed_name_with_a_far_future_cache_header(production_server):
    page = requests.get(f"{production_server.url}/admin/login/", timeout=10).text
    href = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert href, "the login page links no hashed admin/css/base.css"

    stylesheet = requests.get(f"{production_server.url}{href[1]}", timeout=10)

    assert stylesheet.status_code == 200
    assert stylesheet.headers["Content-Type"].startswith("text/css")
    cache_control = stylesheet.headers["Cache-Control"]
    assert "immutable" in cache_control and "public" in cache_control
    assert int(re.search(r"max-age=(\d+)", cache_control)[1]) >= FAR_FUTURE
    assert "#header" in stylesheet.text


def test_the_stylesheet_goes_compressed_to_a_client_that_takes_gzip(production_server):
    page = requests.get(f"{production_server.url}/admin/login/", timeout=10).text
    href = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)[1]

    stylesheet = requests.get(f"{production_server.url}{href}", headers={"Accept-Encoding": "gzip"}, timeout=10)

    assert stylesheet.headers["Content-Encoding"] == "gzip"
    assert "#header" in stylesheet.text  # requests unpacks it


def test_an_unknown_url_is_a_plain_404_without_debug_information(production_server):
    answer = requests.get(f"{production_server.url}/no-such-page/", timeout=10)

    assert answer.status_code == 404
    assert "<h1>Not Found</h1>" in answer.text
    assert "DEBUG" not in answer.text
    assert "urlpatterns" not in answer.text.lower()
    assert "integrations_site.urls" not in answer.text
    assert "Traceback" not in answer.text


def test_an_unknown_static_file_is_a_plain_404_too(production_server):
    answer = requests.get(f"{production_server.url}/static/admin/css/no-such-file.css", timeout=10)

    assert answer.status_code == 404
    assert "DEBUG" not in answer.text
