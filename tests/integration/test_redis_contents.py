"""
What Redis holds (CONTRACT 4.13): no password hash and no API token in clear,
in keys or values, whatever path wrote them; and an entry the app did not
write is a miss, never code.
"""

from __future__ import annotations

import os
import pickle

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from caching import store
from caching.store import client, codec, keys
from catalog.models import Product
from tests.conftest import token_client
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


def everything_in_redis(redis) -> bytes:
    """Return every key this app wrote and everything stored under it."""
    found = []
    for key in redis.scan_iter(match=keys.pattern(), count=1000):
        found.append(key)
        kind = redis.type(key)
        if kind == b"string":
            found.append(redis.get(key) or b"")
        elif kind == b"hash":
            found += [b for pair in redis.hgetall(key).items() for b in pair]
        elif kind == b"list":
            found += redis.lrange(key, 0, -1)
        elif kind == b"zset":
            found += [member for member, _ in redis.zrange(key, 0, -1, withscores=True)]
    return b"\n".join(found)


def test_no_password_hash_or_token_reaches_redis_on_any_path(
    api_client, staff_client, user, staff_user, product, redis
):
    user.set_password("correct horse battery staple")
    user.save()
    owner = token_client(user)
    # reads and writes through every path that caches a user or a token
    owner.get("/api/profiles/me/")
    owner.patch("/api/profiles/me/", {"bio": "Hello"}, format="json")
    owner.get("/api/profiles/me/")
    api_client.get(f"/api/profiles/{user.username}/")
    staff_client.get(f"/api/profiles/{user.username}/")
    staff_client.patch(f"/api/products/{product.pk}/", {"stock": 9}, format="json")
    profile = Profile.objects.get(user=user)
    Profile.objects.get_cached(pk=profile.pk)
    list(Profile.objects.cached().select_related("user"))
    get_user_model().objects.filter(pk=user.pk).update(first_name="A")  # stamps
    Profile.objects.refill_on_commit(profile)
    Token.objects.filter(user=staff_user).delete()  # its stamps and DEL

    stored = everything_in_redis(redis)
    assert stored
    for secret in (user.password, staff_user.password):
        assert secret.encode() not in stored
    assert b"pbkdf2_sha256$" not in stored
    assert b"correct horse" not in stored
    for token in Token.objects.values_list("key", flat=True):
        assert token.encode() not in stored
    assert Token.objects.get(user=user).key.encode() not in stored


def test_a_user_read_back_from_the_cache_loads_its_password_when_asked(user):
    profile = Profile.objects.get(user=user)
    Profile.objects.get_cached(pk=profile.pk)
    cached = Profile.objects.get_cached(pk=profile.pk)
    assert "password" in cached.user.get_deferred_fields()
    assert cached.user.check_password("password")  # loaded from the database


class _Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_an_entry_written_by_someone_else_is_a_miss_never_code(
    product, redis, tmp_path
):
    marker = "/tmp/caching-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    key = keys.object_key(Product, product.pk)
    shard = keys.shard_of(key)
    asof = store.now(shard) + 10
    evil = pickle.dumps(_Boom(marker))
    # well formed, fresh-looking, but not sealed with this app's key
    redis.set(key, f"{asof}\n\n".encode() + b"\x00" * codec.TAG + evil, ex=60)
    assert Product.objects.get_cached(pk=product.pk).name == "Dune"
    assert not os.path.exists(marker)
    assert redis.get(key) != f"{asof}\n\n".encode() + b"\x00" * codec.TAG + evil


def test_a_sealed_entry_copied_under_another_key_is_a_miss(api_client, product, redis):
    other = Product.objects.create(
        sku="B-2", name="Emma", slug="emma", price=1, category=product.category
    )
    first = f"/api/products/{product.pk}/"
    second = f"/api/products/{other.pk}/"
    api_client.get(first)
    redis.set(
        keys.response_key(second, "public"),
        redis.get(keys.response_key(first, "public")),
    )
    response = api_client.get(second)
    assert response.json()["name"] == "Emma"
    assert response["X-Cache"] == "MISS"


def test_an_entry_with_its_asof_edited_is_a_miss(api_client, product, redis):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    key = keys.response_key(url, "public")
    asof, rest = redis.get(key).split(b"\n", 1)
    redis.set(key, str(int(asof) + 10**9).encode() + b"\n" + rest)
    assert api_client.get(url)["X-Cache"] == "MISS"


@pytest.mark.parametrize(
    "junk",
    [b"junk", b"12\nno second line", b"not-a-number\n\npayload", b""],
)
@pytest.mark.parametrize("seen", [False, True], ids=["first read", "reread"])
def test_an_entry_not_in_the_apps_form_is_a_miss_not_an_outage(
    api_client, product, redis, junk, seen
):
    """Whatever else sits under an entry's key is a miss: not an error of the
    read script that would open the circuit breaker (every read a BYPASS)."""
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    if seen:  # this process keeps the entry's reread (caching.store.rereads)
        assert api_client.get(url)["X-Cache"] == "HIT"
    redis.set(keys.response_key(url, "public"), junk)
    response = api_client.get(url)
    assert response.status_code == 200
    assert response["X-Cache"] == "MISS"
    assert not client.breaker.is_open
    assert api_client.get(url)["X-Cache"] == "HIT"
