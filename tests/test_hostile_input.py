"""
No 500 from any input (CONTRACT 3, 7): every case that was a 500 is now a JSON
4xx naming the problem, and schemathesis fuzzes every operation of the OpenAPI
schema, anonymously and as staff, allowing no 5xx.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from werkzeug.test import Client as WSGIClient

from caching.http import wsgi
from project.wsgi import application
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
DEEP = "[" * 100_000 + "]" * 100_000
STAFF_PATCH = "staff-patch"


def client_for(staff_user) -> Client:
    token = Token.objects.get_or_create(user=staff_user)[0].key
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")


@pytest.mark.parametrize(
    ("method", "url", "body", "content_type", "statuses"),
    [
        ("get", "/api/products/?min_price=-1e999999", None, None, {400}),
        ("get", "/api/products/?min_price=1e-999999", None, None, {400}),
        ("get", "/api/products/?min_price=1e-16384", None, None, {400}),
        ("get", "/api/products/?max_price=1e999999", None, None, {400}),
        ("get", "/api/products/?max_price=-1e999999", None, None, {400}),
        ("get", "/api/products/?max_price=1e-16384", None, None, {400}),
        ("get", "/api/products/?min_price=1e10", None, None, {200}),
        ("get", "/api/products/?min_price=NaN", None, None, {400}),
        ("get", "/api/products/?max_price=Infinity", None, None, {400}),
        ("get", "/api/products/?min_price=%D9%A1", None, None, {400}),
        ("get", "/api/categories/%00/", None, None, {400, 404}),
        ("get", "/api/tags/%00/", None, None, {400, 404}),
        ("get", "/api/products/?search=a%00b", None, None, {400}),
        ("get", "/api/products/?category=%00", None, None, {400}),
        ("get", "/api/profiles/%00/", None, None, {400, 404}),
        ("get", "/api/products/%C2%B2/", None, None, {404}),
        ("patch", "/api/products/%C2%B2/", '{"price": "1"}', "application/json", {404}),
        ("get", "/api/products/{pk}/price/?currency=%C3%BC%C3%BC%C3%BC", None, None,
         {400}),
        ("get", "/api/products/{pk}/price/?currency=%00%00%00", None, None, {400}),
        ("post", "/api/auth/token/", DEEP, "application/json", {400}),
        ("patch", "/api/products/{pk}/", DEEP, "application/json", {400}),
        ("patch", "/api/profiles/me/", DEEP, "application/json", {400}),
        ("post", "/api/products/", json.dumps({"sku": "N-1", "name": "n", "price": "1",
         "category": "\u0000"}), "application/json", {400}),
        ("post", "/api/products/", json.dumps({"sku": "N-2", "name": "n", "price": "1",
         "category": "books", "tags": ["\u0000"]}), "application/json", {400}),
        ("post", "/api/products/", json.dumps({"sku": "N-3", "name": "n",
         "price": "1e999999", "category": "books"}), "application/json", {400}),
        ("patch", "/api/products/{pk}/", '{"stock": 1e999}', "application/json",
         {400}),
        ("patch", "/api/products/{pk}/", '{"stock": 99999999999999999999}',
         "application/json", {400}),
        ("post", "/api/auth/token/", "a=" + "x" * 3_000_000,
         "application/x-www-form-urlencoded", {400, 413}),
        ("post", "/api/auth/token/", "&".join(f"f{i}=1" for i in range(2_000)),
         "application/x-www-form-urlencoded", {400}),
        ("patch", "/api/products/{pk}/", '{"name": "' + "x" * 3_000_000 + '"}',
         "application/json", {400, 413}),
        ("get", "/api/products/?search=" + "a" * 20_000, None, None, {414}),
        ("get", "/api/products/?x=%ff%fe", None, None, {200}),
        ("post", "/api/auth/token/", "{", "application/json", {400}),
        ("post", "/api/auth/token/", '{"username": ["a"], "password": {}}',
         "application/json", {400}),
    ],
)  # fmt: skip
@pytest.mark.parametrize("through", ["django", "served"])
def test_hostile_input_gets_a_json_4xx(
    staff_user, product, method, url, body, content_type, statuses, through, served
):
    url = url.format(pk=product.pk)
    kwargs = {} if body is None else {"data": body, "content_type": content_type}
    if through == "django":  # Django's test client: the handler, no WSGI layer
        response = getattr(client_for(staff_user), method)(url, **kwargs)
        status, content = response.status_code, response.content
    else:  # the application gunicorn serves
        token = Token.objects.get_or_create(user=staff_user)[0].key
        response = served.open(
            url, method=method.upper(), headers={"Authorization": f"Token {token}"},
            **kwargs,
        )  # fmt: skip
        status, content = response.status_code, response.data
    assert status in statuses, content[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    if status >= 400:
        assert json.loads(content)  # names the problem


def test_query_strings_of_8_kb_reach_the_app(api_client, product):
    response = api_client.get("/api/products/?search=" + "a" * 8_192)
    assert response.status_code == 200
    assert response.json()["count"] == 0


# --- through the application gunicorn serves -------------------------------------


@pytest.fixture
def served() -> WSGIClient:
    """A client of the application gunicorn serves (the cache's WSGI layer, then
    Django), with werkzeug's test client: its environs are PEP 3333's, the path
    decoded as latin-1, as gunicorn's are (httpx's WSGI transport decodes it as
    UTF-8, Django's test client skips the WSGI layer)."""
    wsgi._prepared.clear()  # each path is met for the first time
    return WSGIClient(application)


@pytest.mark.parametrize("username", ["zoë", "Иван"])
def test_a_non_ascii_username_is_found_on_the_first_request(served, username):
    """By the WSGI level (a JSON miss) and by Django (the browsable API, which
    the WSGI level looks at first and leaves to Django)."""
    UserFactory(username=username)
    url = f"/api/profiles/{quote(username)}/"
    browsable = served.get(url, headers={"Accept": "text/html"})
    assert browsable.status_code == 200, browsable.text[:300]
    assert username in browsable.text
    first, second = served.get(url), served.get(url)
    assert first.status_code == 200, first.text[:300]
    assert first.json["username"] == username
    assert [first.headers["X-Cache"], second.headers["X-Cache"]] == ["MISS", "HIT"]
    assert second.data == first.data


@pytest.mark.parametrize(
    "path",
    ["/api/products/%D9%A3/", "/api/products/%C2%B2/", "/api/categories/%F0%9F%98%80/",
     "/api/tags/caf%C3%A9/", "/api/profiles/%E2%80%AE/"],
)  # fmt: skip
def test_a_non_ascii_path_is_a_json_404(served, path):
    response = served.get(path)
    assert response.status_code == 404, response.text[:300]
    assert response.json["detail"]


# --- fuzzing from the schema -----------------------------------------------------

# The application gunicorn serves: the cache's WSGI layer is fuzzed too.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
FUZZ = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def fuzz_data(db, product):
    staff = UserFactory(username="fuzz-staff", is_staff=True)
    return Token.objects.get_or_create(user=staff)[0].key


@schema.parametrize()
@FUZZ
def test_fuzz_anonymous(case, fuzz_data):
    response = case.call()
    assert response.status_code < 500, (case.path, case.query, response.text[:300])


@schema.parametrize()
@FUZZ
def test_fuzz_as_staff(case, fuzz_data):
    response = case.call(headers={"Authorization": f"Token {fuzz_data}"})
    assert response.status_code < 500, (case.path, case.query, response.text[:300])
