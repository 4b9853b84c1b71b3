"""
Hits answered at the WSGI level (caching.http.wsgi), before Django's handler:
the same bytes and headers as the Django path, header for header, and nothing
that path guarantees given up (hosts, HTTPS, 304s, tokens, the guards).

Requests go through the project's WSGI application with httpx's WSGI transport
(a real HTTP client's requests, the real database and Redis); each comparison
asks the same question with the WSGI hit path off (CACHING["WSGI_HITS"]).
"""

from __future__ import annotations

import pytest
from django.http import JsonResponse
from django.urls import get_resolver, path
from django.urls.resolvers import URLResolver
from prometheus_client import REGISTRY
from rest_framework.authtoken.models import Token
from rest_framework.permissions import IsAuthenticated

from caching import store
from caching.store import keys
from caching.store.metrics import FAST_RESPONSES
from catalog.api.views import ProductViewSet
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

URLS = ["/api/products/{pk}/", "/api/products/?ordering=-price", "/api/catalog/stats/"]


def both_ways(http, caching_settings, method, url, **kwargs):
    """Return the answer of the WSGI hit path and of the Django path."""
    fast = http.request(method, url, **kwargs)
    caching_settings(WSGI_HITS=False)
    slow = http.request(method, url, **kwargs)
    caching_settings(WSGI_HITS=True)
    return fast, slow


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_hit_is_the_django_paths_hit_header_for_header(
    http, caching_settings, handled, product, url, method
):
    url = url.format(pk=product.pk)
    assert http.get(url).headers["X-Cache"] == "MISS"
    handled.clear()
    fast, slow = both_ways(http, caching_settings, method, url)
    assert handled == [url.split("?")[0]]  # only the Django path's request
    assert (fast.status_code, slow.status_code) == (200, 200)
    assert fast.headers["X-Cache"] == slow.headers["X-Cache"] == "HIT"
    assert list(fast.headers.items()) == list(slow.headers.items())
    assert fast.content == slow.content
    assert fast.headers["ETag"] == http.get(url).headers["ETag"]  # the GET's
    assert fast.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_current_etag_gets_the_same_304(
    http, caching_settings, handled, product, method
):
    url = f"/api/products/{product.pk}/"
    etag = http.get(url).headers["ETag"]
    handled.clear()
    fast, slow = both_ways(
        http, caching_settings, method, url, headers={"If-None-Match": etag}
    )
    assert handled == [url]
    assert (fast.status_code, slow.status_code) == (304, 304)
    assert list(fast.headers.items()) == list(slow.headers.items())
    assert fast.content == b""
    weak = http.get(url, headers={"If-None-Match": f'W/{etag}, "other"'})
    assert weak.status_code == 304


def test_a_changed_body_is_never_a_304(http, product):
    url = f"/api/products/{product.pk}/"
    etag = http.get(url).headers["ETag"]
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
    product.name = "Dune Messiah"
    product.save()
    answer = http.get(url, headers={"If-None-Match": etag})
    assert answer.status_code == 200
    assert answer.json()["name"] == "Dune Messiah"
    again = http.get(url, headers={"If-None-Match": etag})
    assert (again.status_code, again.headers["X-Cache"]) == (200, "HIT")


def test_a_disallowed_host_gets_djangos_400(http, handled, product):
    url = f"/api/products/{product.pk}/"
    http.get(url)
    assert http.get(url).headers["X-Cache"] == "HIT"
    handled.clear()
    answer = http.get(url, headers={"Host": "evil.example"})
    assert answer.status_code == 400
    assert b"Dune" not in answer.content
    assert handled == [url]


def test_https_redirect_and_hsts_as_django_sends_them(
    caching_settings, handled, settings, product, new_http
):
    url = f"/api/products/{product.pk}/"
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    http = new_http()  # SecurityMiddleware reads them when it is made
    http.get(f"https://127.0.0.1{url}")
    handled.clear()
    redirected = http.get(url)
    assert redirected.status_code == 301
    assert redirected.headers["Location"] == f"https://127.0.0.1{url}"
    assert handled == [url]
    secure = http.get(f"https://127.0.0.1{url}")
    assert secure.headers["X-Cache"] == "HIT"
    assert secure.headers["Strict-Transport-Security"] == "max-age=3600"
    handled.clear()
    fast, slow = both_ways(http, caching_settings, "GET", f"https://127.0.0.1{url}")
    assert handled == [url]
    assert list(fast.headers.items()) == list(slow.headers.items())


def test_tokens_are_known_at_the_wsgi_level(http, handled, staff_user):
    hidden = ProductFactory(is_active=False)  # staff only
    url = f"/api/products/{hidden.pk}/"
    token = Token.objects.create(user=staff_user)
    auth = {"Authorization": f"Token {token.key}"}
    assert http.get(url, headers=auth).headers["X-Cache"] == "MISS"
    handled.clear()
    hit = http.get(url, headers=auth)
    assert (hit.status_code, hit.headers["X-Cache"], handled) == (200, "HIT", [])
    assert http.get(url).status_code == 404  # not the staff variant
    other = http.get(url, headers={"Authorization": "Token not-a-real-token"})
    assert other.status_code == 401
    staff_user.is_staff = False
    staff_user.save()
    assert http.get(url, headers=auth).status_code == 404
    token.delete()
    assert http.get(url, headers=auth).status_code == 401


def test_a_token_not_cached_yet_goes_to_django_not_to_the_database(
    http, handled, user, product, django_assert_num_queries
):
    url = f"/api/products/{product.pk}/"
    http.get(url)  # the anonymous and the token variants are one entry here
    token = Token.objects.create(user=user)
    handled.clear()
    answer = http.get(url, headers={"Authorization": f"Token {token.key}"})
    assert (answer.headers["X-Cache"], handled) == ("HIT", [url])  # via Django
    handled.clear()
    with django_assert_num_queries(0):
        again = http.get(url, headers={"Authorization": f"Token {token.key}"})
    assert (again.headers["X-Cache"], handled) == ("HIT", [])


def test_the_guards_still_answer_hostile_urls(http, handled, product):
    url = "/api/products/?ordering=-price"
    http.get(url)
    assert http.get(url).headers["X-Cache"] == "HIT"
    long = http.get(url + "&x=" + "a" * 17_000)
    assert long.status_code == 414
    assert "detail" in long.json()
    nul = http.get(url + "&x=%00")
    assert nul.status_code == 400
    assert "detail" in nul.json()


def test_an_unknown_middleware_above_the_hit_path_turns_it_off(
    handled, settings, product, new_http
):
    url = f"/api/products/{product.pk}/"
    gzip = "django.middleware.gzip.GZipMiddleware"
    settings.MIDDLEWARE = [gzip, *settings.MIDDLEWARE]
    http = new_http()
    http.get(url)
    handled.clear()
    answer = http.get(url, headers={"Accept-Encoding": "gzip"})
    assert handled == [url]  # Django answered: the hit is still a hit, gzipped
    assert answer.headers["X-Cache"] == "HIT"


def test_a_miss_reads_redis_once_through_the_wsgi_path(http, handled, redis, product):
    redis.config_resetstat()
    answer = http.get(f"/api/products/{product.pk}/")
    assert answer.headers["X-Cache"] == "MISS"
    # One read (the WSGI path, handed on to the view) and one fill.
    assert redis.info("commandstats")["cmdstat_evalsha"]["calls"] == 2


def test_hits_are_counted_for_prometheus(http, product):
    url = f"/api/products/{product.pk}/"
    http.get(url)
    FAST_RESPONSES.flush()
    before = REGISTRY.get_sample_value("cache_fast_responses_total", {"status": "200"})
    for _ in range(3):
        http.get(url)
    FAST_RESPONSES.flush()
    after = REGISTRY.get_sample_value("cache_fast_responses_total", {"status": "200"})
    assert after - (before or 0) == 3


def test_a_fault_in_the_wsgi_path_leaves_the_request_to_django(
    http, handled, monkeypatch, product
):
    from caching.http import wsgi

    url = f"/api/products/{product.pk}/"
    http.get(url)

    def broken(environ):
        raise ValueError("a bug")

    monkeypatch.setattr(wsgi, "prepare", broken)
    wsgi._prepared.clear()
    handled.clear()
    answer = http.get(url)
    assert (answer.status_code, answer.headers["X-Cache"]) == (200, "HIT")
    assert answer.json()["name"] == "Dune"
    assert handled == [url]


@pytest.fixture
def top_level_resolves(monkeypatch) -> list:
    """The paths resolved against the root URLconf, in order."""
    resolved: list = []
    root = get_resolver()
    resolve = URLResolver.resolve

    def counted(self, path):
        if self is root:
            resolved.append(path)
        return resolve(self, path)

    monkeypatch.setattr(URLResolver, "resolve", counted)
    return resolved


def test_a_miss_resolves_its_path_once(http, top_level_resolves, product):
    url = f"/api/products/{product.pk}/"
    answer = http.get(url)
    assert answer.headers["X-Cache"] == "MISS"
    assert answer.json()["name"] == "Dune"
    # The WSGI path's resolution, taken by Django's handler (DjangoHandler).
    assert top_level_resolves == [url]
    top_level_resolves.clear()
    assert http.get(url).headers["X-Cache"] == "HIT"
    assert top_level_resolves == []  # a URL is resolved once per process


# A URLconf a middleware below the hit path picks for some requests.
def other_view(request, pk):
    return JsonResponse({"other": pk})


urlpatterns = [path("api/products/<int:pk>/", other_view)]


class OtherUrlconf:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.urlconf = __name__
        return self.get_response(request)


def test_a_urlconf_set_by_a_middleware_is_resolved_by_django(
    settings, new_http, product
):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.OtherUrlconf"]
    answer = new_http().get(f"/api/products/{product.pk}/")
    # The WSGI path's route (the product detail) is not what Django resolves.
    assert answer.json() == {"other": product.pk}


@pytest.mark.parametrize("wsgi_hits", [True, False])
def test_a_miss_drf_refuses_before_the_view_gives_its_lease_up(
    http, caching_settings, product, monkeypatch, wsgi_hits
):
    caching_settings(WSGI_HITS=wsgi_hits)  # read by the WSGI level, or middleware
    monkeypatch.setattr(ProductViewSet, "permission_classes", [IsAuthenticated])
    url = f"/api/products/{product.pk}/"
    assert http.get(url).status_code == 401  # its read took the lease
    lookup = store.read(keys.response_key(url, "public"))
    assert lookup.leader  # free again: no reader waits on a fill never coming
    store.release(keys.response_key(url, "public"), lookup.token)
