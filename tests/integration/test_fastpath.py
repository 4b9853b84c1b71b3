"""
The fast hit path: hits answered before DRF's machinery, for anonymous callers
and API tokens alike, without a database query, and without weakening privacy.
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from tests.conftest import token_client
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_token_authenticated_hits_run_no_query(
    staff_client, user_client, django_assert_num_queries, product
):
    url = f"/api/products/{product.pk}/"
    for client in (staff_client, user_client):
        client.get(url)
        client.get(url)  # the token is cached now too
        with django_assert_num_queries(0):
            response = client.get(url)
        assert response["X-Cache"] == "HIT"
        assert response.json()["name"] == "Dune"


def test_deleted_token_is_refused_at_once(user_client, user, product):
    url = "/api/profiles/me/"
    assert user_client.get(url).status_code == 200
    assert user_client.get(url).status_code == 200
    Token.objects.filter(user=user).delete()
    assert user_client.get(url).status_code == 401


def test_deactivated_user_is_refused_at_once(user_client, user, product):
    url = f"/api/products/{product.pk}/"
    user_client.get(url)
    assert user_client.get(url)["X-Cache"] == "HIT"
    user.is_active = False
    user.save()
    assert user_client.get("/api/profiles/me/").status_code == 401
    # A read open to anyone still answers, as to an anonymous caller.
    assert user_client.get(url).status_code in {200, 401}


def test_demoted_staff_loses_the_staff_view_at_once(staff_user):
    hidden = ProductFactory(is_active=False)
    url = f"/api/products/{hidden.pk}/"
    client = token_client(staff_user)
    assert client.get(url).status_code == 200
    assert client.get(url)["X-Cache"] == "HIT"
    staff_user.is_staff = False
    staff_user.save()
    assert client.get(url).status_code == 404


def test_unknown_token_gets_401_not_a_cached_page(api_client, product):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api_client.get(url).status_code == 401


def test_session_users_are_served_the_normal_way(client, staff_user, product):
    client.force_login(staff_user)
    hidden = ProductFactory(is_active=False)
    url = f"/api/products/{hidden.pk}/"
    assert client.get(url, HTTP_ACCEPT="application/json").status_code == 200
    second = client.get(url, HTTP_ACCEPT="application/json")
    assert second["X-Cache"] == "HIT"  # through DRF, staff variant


def test_other_formats_bypass(api_client, product):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    assert api_client.get(url)["X-Cache"] == "HIT"
    assert api_client.get(url, {"format": "api"})["X-Cache"] == "BYPASS"
    assert api_client.get(url, HTTP_ACCEPT="text/html")["X-Cache"] == "BYPASS"


@pytest.mark.parametrize(
    "url",
    ["/api/products/{pk}/", "/api/products/?ordering=-price", "/api/catalog/stats/"],
)
def test_fast_hits_carry_the_same_headers_and_body(api_client, product, url):
    url = url.format(pk=product.pk)
    miss = api_client.get(url)
    hit = api_client.get(url)
    assert (miss["X-Cache"], hit["X-Cache"]) == ("MISS", "HIT")
    assert hit.content == miss.content
    headers = {name: value for name, value in miss.items() if name != "X-Cache"}
    assert {name: value for name, value in hit.items() if name != "X-Cache"} == headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Vary"] == "Accept, Authorization, Cookie"
    assert headers["X-Frame-Options"] == "DENY"


def test_a_disallowed_host_gets_400_not_a_hit(api_client, product):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    assert api_client.get(url)["X-Cache"] == "HIT"
    response = api_client.get(url, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert b"Dune" not in response.content


def test_a_hit_runs_no_session_or_auth_middleware(api_client, product, monkeypatch):
    from django.contrib.sessions.middleware import SessionMiddleware

    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    calls = []
    original = SessionMiddleware.process_request
    monkeypatch.setattr(
        SessionMiddleware,
        "process_request",
        lambda self, request: calls.append(request.path) or original(self, request),
    )
    assert api_client.get(url)["X-Cache"] == "HIT"
    assert calls == []
    assert api_client.get(url, {"format": "api"})["X-Cache"] == "BYPASS"
    assert calls == [url]


def test_a_miss_reads_redis_once(api_client, product, redis):
    redis.config_resetstat()
    api_client.get(f"/api/products/{product.pk}/")
    stats = redis.info("commandstats")
    # One read (fast path, handed on) and one fill: two script calls.
    assert stats["cmdstat_evalsha"]["calls"] == 2


def test_token_writes_run_no_token_query(staff_client, product):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = f"/api/products/{product.pk}/"
    assert staff_client.patch(url, {"stock": 1}, format="json").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.patch(url, {"stock": 2}, format="json")
    assert response.status_code == 200
    assert response.json()["stock"] == 2
    assert not [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]


def test_the_password_hash_never_reaches_redis(staff_user, redis, product):
    from caching.store import keys

    staff_user.set_password("correct horse battery staple")
    staff_user.save()
    client = token_client(staff_user)
    client.patch(f"/api/products/{product.pk}/", {"stock": 3}, format="json")
    key = Token.objects.get(user=staff_user).key
    raw = redis.get(keys.token_key(key))
    assert raw is not None
    assert staff_user.password.encode() not in raw
    assert b"pbkdf2" not in raw
