"""
HTTP validators (CONTRACT 4.14), through a real HTTP client against a live
server: every cacheable 200 has an ETag that changes exactly when its body
does, If-None-Match with the current one is a 304 with no body (answered by
the hit path), and Cache-Control tells shared caches to revalidate.
"""

from __future__ import annotations

import httpx
import pytest
from rest_framework.authtoken.models import Token

from catalog.models import Category, Product

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server.url) as client:
        yield client


def as_user(user) -> dict:
    token, _ = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


def revalidate(http, url, etag, headers=None):
    return http.get(url, headers={**(headers or {}), "If-None-Match": etag})


@pytest.mark.parametrize(
    "path",
    ["/api/products/", "/api/products/{pk}/", "/api/categories/books/",
     "/api/catalog/stats/", "/api/profiles/"],
)  # fmt: skip
def test_a_current_etag_gets_a_304_from_the_hit_path(http, product, user, path):
    url = path.format(pk=product.pk)
    first = http.get(url)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    hit = http.get(url)
    assert (hit.headers["X-Cache"], hit.headers["ETag"]) == ("HIT", etag)

    not_modified = revalidate(http, url, etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    assert not_modified.headers["X-Cache"] == "HIT"
    assert revalidate(http, url, '"something-else"').status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/api/products/", "/api/products/{pk}/", "/api/categories/books/",
     "/api/catalog/stats/", "/api/profiles/"],
)  # fmt: skip
@pytest.mark.parametrize("wsgi_hits", [True, False])
def test_a_head_carries_its_gets_etag_and_gets_its_304(
    http, caching_settings, product, user, path, wsgi_hits
):
    """Cache off, a miss and a hit: the same ETag as the GET's (CONTRACT 4.11)."""
    url = path.format(pk=product.pk)
    caching_settings(ENABLED=False)
    off = http.head(url)
    caching_settings(ENABLED=True, WSGI_HITS=wsgi_hits)
    miss, hit = http.head(url), http.head(url)
    get = http.get(url)
    assert [r.headers["X-Cache"] for r in (off, miss, hit, get)] == [
        "BYPASS", "MISS", "HIT", "HIT"]  # fmt: skip
    assert [r.status_code for r in (off, miss, hit)] == [200, 200, 200]
    assert {r.headers["ETag"] for r in (off, miss, hit)} == {get.headers["ETag"]}
    for caching in (False, True):
        caching_settings(ENABLED=caching)
        not_modified = http.head(url, headers={"If-None-Match": get.headers["ETag"]})
        assert not_modified.status_code == 304
        assert not_modified.headers["ETag"] == get.headers["ETag"]
    assert not_modified.headers["X-Cache"] == "HIT"


def test_a_write_gives_a_200_with_a_new_etag_and_never_a_304(http, product, staff_user):
    url = f"/api/products/{product.pk}/"
    etag = http.get(url).headers["ETag"]
    for price in ("13.00", "14.00", "15.00"):
        http.patch(url, json={"price": price}, headers=as_user(staff_user))
        fresh = revalidate(http, url, etag)
        assert fresh.status_code == 200
        assert fresh.json()["price"] == price
        assert fresh.headers["ETag"] != etag
        etag = fresh.headers["ETag"]
        assert revalidate(http, url, etag).status_code == 304


def test_an_orm_write_without_signals_changes_the_list_etag(http, product):
    etag = http.get("/api/products/").headers["ETag"]
    Product.objects.filter(pk=product.pk).update(name="Dune Messiah")
    fresh = revalidate(http, "/api/products/", etag)
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] != etag


def test_the_etag_changes_exactly_when_the_body_does(http, product, category):
    url = "/api/categories/books/"
    before = http.get(url)
    category.name = "Novels"
    category.save()
    renamed = http.get(url)
    assert renamed.headers["ETag"] != before.headers["ETag"]
    category.name = "Books"
    category.save()
    back = http.get(url)  # a miss: the same bytes as before, the same ETag
    assert back.headers["X-Cache"] == "MISS"
    assert back.content == before.content
    assert back.headers["ETag"] == before.headers["ETag"]


def test_the_etag_is_the_same_on_a_miss_a_hit_and_a_bypass(http, product, settings):
    url = f"/api/products/{product.pk}/"
    miss, hit = http.get(url), http.get(url)
    settings.CACHING = {**settings.CACHING, "ENABLED": False}
    bypass = http.get(url)
    assert [r.headers["X-Cache"] for r in (miss, hit, bypass)] == [
        "MISS", "HIT", "BYPASS"]  # fmt: skip
    assert len({r.headers["ETag"] for r in (miss, hit, bypass)}) == 1
    assert revalidate(http, url, miss.headers["ETag"]).status_code == 304


def test_no_304_across_users(http, user, other_user):
    mine = http.get("/api/profiles/me/", headers=as_user(user))
    theirs = revalidate(
        http, "/api/profiles/me/", mine.headers["ETag"], as_user(other_user)
    )
    assert theirs.status_code == 200
    assert theirs.json()["username"] == other_user.username
    assert revalidate(http, "/api/profiles/me/", mine.headers["ETag"], as_user(user)
                      ).status_code == 304  # fmt: skip


def test_staff_never_get_a_304_for_the_public_body(http, product, staff_user):
    """A product staff see differently (inactive) is a different body."""
    Product.objects.filter(pk=product.pk).update(is_active=False)
    public = http.get("/api/products/")
    staff = revalidate(
        http, "/api/products/", public.headers["ETag"], as_user(staff_user)
    )
    assert staff.status_code == 200
    assert [p["id"] for p in staff.json()["results"]] == [product.pk]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/api/products/", "private"), ("/api/products/{pk}/", "private"),
     ("/api/profiles/me/", "private"), ("/api/profiles/alice/", "private"),
     ("/api/categories/", "no-cache"), ("/api/categories/books/", "no-cache"),
     ("/api/tags/", "no-cache"), ("/api/catalog/stats/", "no-cache")],
)  # fmt: skip
def test_cache_control_is_private_where_the_answer_depends_on_who_asks(
    http, product, user, path, expected
):
    url = path.format(pk=product.pk)
    headers = as_user(user)
    miss = http.get(url, headers=headers)
    hit = http.get(url, headers=headers)
    assert miss.status_code == 200, miss.text
    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("MISS", "HIT")
    assert miss.headers["Cache-Control"] == hit.headers["Cache-Control"] == expected
    not_modified = revalidate(http, url, hit.headers["ETag"], headers)
    assert not_modified.headers["Cache-Control"] == expected


def test_category_list_etag_follows_a_new_category(http, category):
    etag = http.get("/api/categories/").headers["ETag"]
    Category.objects.create(name="Poetry", slug="poetry")
    assert revalidate(http, "/api/categories/", etag).status_code == 200
