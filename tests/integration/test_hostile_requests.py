"""
A cached answer is the answer (CONTRACT 4.9, 4.11) and hostile clients cannot
multiply keys (4.12): repeated parameters, every negotiated variant, HEAD,
spellings of one query, Host ports, page sizes over the cap.
"""

from __future__ import annotations

import random
import re

import pytest
from django.conf import settings as django_settings
from django.http import QueryDict
from django.test import Client
from django.test import override_settings as settings_override

from caching.http.params import effective_ordering
from caching.store import keys
from catalog.api import endpoints
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)
LIST = "/api/products/"
IGNORED_HEADERS = {"X-Cache", "Date"}


def response_keys(redis) -> list[bytes]:
    """The keys of list pages (a list miss also fills its products' details,
    one per product whatever the query: caching.http.fragments)."""
    details = re.compile(rb":r:/api/products/\d+/:")
    found = redis.scan_iter(match=f"{keys.pattern()[:-1]}r:*")
    return [key for key in found if not details.search(key)]


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def answer(response) -> tuple:
    headers = {k: v for k, v in response.items() if k not in IGNORED_HEADERS}
    return response.status_code, response.content, headers


@pytest.fixture
def catalog(product):
    CategoryFactory(slug="games", name="Games")
    ProductFactory.create_batch(3, category=product.category, price="30.00")
    return product


# --- one query, one key; equal queries, equal answers ----------------------------


@pytest.mark.parametrize("name", ["category", "page", "ordering", "min_price"])
def test_a_parameter_given_twice_is_a_400_never_cached(api_client, catalog, name):
    values = {
        "category": ("books", "games"),
        "page": ("1", "2"),
        "ordering": ("price", "-price"),
        "min_price": ("1", "2"),
    }[name]
    url = f"{LIST}?{name}={values[0]}&{name}={values[1]}"
    for _ in range(2):
        response = api_client.get(url)
        assert response.status_code == 400
        assert name in response.json()
        assert response["X-Cache"] == "BYPASS"


def test_parameters_in_another_order_share_the_entry(api_client, catalog):
    first = api_client.get(f"{LIST}?ordering=-price&category=books&page_size=2")
    second = api_client.get(f"{LIST}?page_size=2&category=books&ordering=-price")
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert first.content == second.content


def test_spellings_of_one_query_share_the_entry_and_the_answer(
    api_client, catalog, redis
):
    """min_price rounds up to cents, page_size above the cap is the cap, the
    default page and ordering are no parameter at all, unknown ones are dropped."""
    spellings = [
        f"{LIST}?min_price=5.001&page_size=100",
        f"{LIST}?min_price=5.01&page_size=101",
        f"{LIST}?min_price=5.0099999&page_size=5000&page=1&ordering=id&utm=x",
        f"{LIST}?min_price=5.001234&page_size=100&format=json",
    ]
    answers = [api_client.get(url) for url in spellings]
    assert [a["X-Cache"] for a in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert len({a.content for a in answers}) == 1
    assert len(response_keys(redis)) == 1


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("price", "price"), ("price,price", "price"), ("price,-price,price", "price"),
     ("-price,price", "-price"), ("name,price,name,-price", "name,price"),
     ("id,price", None), ("-id,price,name", "-id"), ("price,-id,name", "price,-id"),
     ("id", None), ("-id", "-id"), ("price,id", "price"), ("-price,-id", "-price"),
     ("-price,id", "-price,id"), ("name,-name,-id", "name,-id")],
)  # fmt: skip
def test_an_ordering_keeps_the_fields_that_order_anything(given, canonical):
    endpoint = endpoints.product_list
    pairs, errors = endpoint.canonical(QueryDict(f"ordering={given}"))
    assert (dict(pairs).get("ordering"), errors) == (canonical, {})


def test_spellings_of_one_ordering_share_the_entry_and_the_answer(
    api_client, catalog, redis, caching_settings
):
    """Everyone gets the order the canonical form gives: the cache off, a
    variant the cache bypasses (which skips the canonical form) and the cache."""
    spellings = ["price", "price,price", "price,-price", "price,name,-price,id"]
    indented = "application/json; indent=2"  # BYPASS: the view gets the raw query
    caching_settings(ENABLED=False)
    off = [ids(api_client.get(f"{LIST}?ordering={o}")) for o in spellings]
    caching_settings(ENABLED=True)
    bypassed = [
        ids(api_client.get(f"{LIST}?ordering={o}", HTTP_ACCEPT=indented))
        for o in spellings
    ]
    answers = [api_client.get(f"{LIST}?ordering={o}") for o in spellings]
    assert [a["X-Cache"] for a in answers] == ["MISS", "HIT", "HIT", "MISS"]
    assert len({a.content for a in answers[:3]}) == 1
    assert off == bypassed == [ids(a) for a in answers]
    assert len(response_keys(redis)) == 2  # price; price,name


def test_random_orderings_do_not_multiply_keys(api_client, catalog, redis):
    """Any list of the eight orderings is one of the few that order differently."""
    rng = random.Random(7)
    choices = ["id", "-id", "price", "-price", "name", "-name", "created_at"]
    given = {",".join(rng.choices(choices, k=rng.randint(2, 12))) for _ in range(150)}
    for ordering in given:
        assert api_client.get(f"{LIST}?ordering={ordering}").status_code == 200
    distinct = {
        ",".join(effective_ordering(o.split(","), tiebreak="id")) for o in given
    }
    assert len(response_keys(redis)) == len(distinct) < len(given) / 2


def test_random_decimals_and_host_ports_do_not_multiply_keys(
    api_client, catalog, redis, settings
):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    rng = random.Random(7)
    for _ in range(100):
        digits = "".join(rng.choices("0123456789", k=rng.randint(1, 12)))
        api_client.get(f"{LIST}?min_price=0.{digits}")
    for port in range(8000, 8050):
        api_client.get(LIST, HTTP_HOST=f"127.0.0.1:{port}")
    # min_price=0.<digits> is 0.00 or 0.01 once in cents; hosts share one entry
    assert len(response_keys(redis)) <= 3


def test_page_links_are_the_canonical_query(api_client, catalog, settings):
    settings.PUBLIC_URL = "https://shop.example"
    body = api_client.get(f"{LIST}?page_size=2&utm_source=x&min_price=0.001").json()
    assert body["next"] == (
        "https://shop.example/api/products/?min_price=0.01&page=2&page_size=2"
    )


# --- content negotiation: only the canonical JSON is stored or served -----------


def test_indented_json_is_neither_stored_nor_served(api_client, catalog):
    indented = api_client.get(LIST, HTTP_ACCEPT="application/json; indent=8")
    assert indented["X-Cache"] == "BYPASS"
    assert b"\n        " in indented.content
    plain = api_client.get(LIST)
    assert plain["X-Cache"] == "MISS"
    assert b"\n" not in plain.content
    again = api_client.get(LIST, HTTP_ACCEPT="application/json; indent=8")
    assert again["X-Cache"] == "BYPASS"
    assert again.content == indented.content


def test_a_request_drf_would_refuse_with_406_is_never_a_hit(api_client, catalog):
    api_client.get(LIST)
    assert api_client.get(LIST)["X-Cache"] == "HIT"
    refused = api_client.get(LIST, HTTP_ACCEPT="application/xml")
    assert refused.status_code == 406
    assert refused["X-Cache"] == "BYPASS"


@pytest.mark.parametrize("accept", ["text/*", "text/html", "text/html;q=1, */*;q=0.1"])
def test_html_wanted_gets_html_both_times(api_client, catalog, accept):
    api_client.get(LIST)
    for _ in range(2):
        response = api_client.get(LIST, HTTP_ACCEPT=accept)
        assert response["Content-Type"].startswith("text/html")
        assert response["X-Cache"] == "BYPASS"


def test_json_format_shares_the_entry_and_other_formats_bypass(api_client, catalog):
    api_client.get(LIST)
    assert api_client.get(LIST, {"format": "json"})["X-Cache"] == "HIT"
    assert api_client.get(LIST, {"format": "api"})["X-Cache"] == "BYPASS"
    assert api_client.get(LIST, {"format": "xml"}).status_code == 404


@pytest.mark.parametrize(
    "accept",
    ["*/*", "application/json", "application/json; charset=utf-8",
     "application/json; indent=2", "text/*", "application/xml", "*/*;q=0.8"],
)  # fmt: skip
@pytest.mark.parametrize(
    "url", [LIST, f"{LIST}?ordering=-price&page_size=2", "/api/catalog/stats/"]
)
def test_a_hit_is_exactly_the_answer_with_the_cache_off(catalog, url, accept):
    client = Client(HTTP_ACCEPT=accept)
    with settings_override(CACHING={**django_settings.CACHING, "ENABLED": False}):
        expected = answer(client.get(url))
    client.get(url)
    second = client.get(url)
    if second["X-Cache"] == "HIT":
        assert answer(second) == expected
    else:  # not cached: the browsable API renders a CSRF token each time
        assert second["X-Cache"] == "BYPASS"
        assert answer(second)[0] == expected[0]
        assert second["Content-Type"] == expected[2]["Content-Type"]


# --- HEAD, errors ----------------------------------------------------------------


def test_head_is_answered_from_the_cache_like_get(api_client, catalog):
    url = f"/api/products/{catalog.pk}/"
    head = api_client.head(url)  # a miss fills the entry GET reads
    assert head.status_code == 200
    assert head.content == b""
    get = api_client.get(url)
    assert get["X-Cache"] == "HIT"
    head = api_client.head(url)
    assert head["X-Cache"] == "HIT"
    assert head["Content-Length"] == get["Content-Length"]
    assert head.content == b""


def test_a_404_from_a_cacheable_get_says_what_the_cache_did(api_client, catalog):
    response = api_client.get("/api/products/987654/")
    assert response.status_code == 404
    assert response["X-Cache"] == "MISS"
    assert api_client.get("/api/categories/nothing/")["X-Cache"] == "MISS"
