"""
The API through the response cache: X-Cache, hits without queries, freshness
after every kind of write (CONTRACT 4.1, 4.2), and privacy (4.7).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory, TagFactory
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


def get_twice(client, url, **params):
    first = client.get(url, params)
    second = client.get(url, params)
    assert first["X-Cache"] == "MISS", url
    assert second["X-Cache"] == "HIT", url
    assert first.content == second.content
    return second.json()


CACHEABLE = [
    "/api/products/",
    "/api/products/?category=books&ordering=-price&page_size=5",
    "/api/categories/",
    "/api/categories/books/",
    "/api/tags/",
    "/api/tags/sale/",
    "/api/profiles/",
    "/api/profiles/alice/",
    "/api/catalog/stats/",
]


@pytest.mark.parametrize("url", CACHEABLE)
def test_cacheable_gets_miss_then_hit_without_queries(
    api_client, cache_events, product, user, url
):
    assert api_client.get(url)["X-Cache"] == "MISS"
    with cache_events.expect(queries=0, hits=1, misses=0):
        response = api_client.get(url)
    assert response["X-Cache"] == "HIT"
    assert response.status_code == 200


def test_product_detail_hit_runs_no_query(api_client, cache_events, product):
    url = f"/api/products/{product.pk}/"
    get_twice(api_client, url)
    with cache_events.expect(queries=0, hits=1):
        assert api_client.get(url).json()["name"] == "Dune"


def test_browsable_api_is_not_cached(api_client, product):
    response = api_client.get("/api/products/", HTTP_ACCEPT="text/html")
    assert response["X-Cache"] == "BYPASS"


def test_cache_switched_off_bypasses(api_client, product, settings):
    settings.CACHING = {**settings.CACHING, "ENABLED": False}
    assert api_client.get("/api/products/")["X-Cache"] == "BYPASS"


# --- read-your-writes after each write path --------------------------------


def warm(client, product):
    urls = [
        f"/api/products/{product.pk}/",
        "/api/products/",
        "/api/products/?category=books",
        "/api/products/?tag=sale",
        "/api/products/?ordering=-price&page_size=1",
        "/api/products/?search=dune",
        "/api/products/?min_price=10&in_stock=true",
        "/api/catalog/stats/",
    ]
    for url in urls:
        client.get(url)
        assert client.get(url)["X-Cache"] == "HIT"
    return urls


def detail(client, product):
    return client.get(f"/api/products/{product.pk}/").json()


def listed_prices(client, url="/api/products/"):
    return [row["price"] for row in client.get(url).json()["results"]]


def test_api_patch_refreshes_detail_lists_filters_and_stats(
    api_client, staff_client, product
):
    warm(api_client, product)
    response = staff_client.patch(
        f"/api/products/{product.pk}/", {"price": "20.00"}, format="json"
    )
    assert response.status_code == 200
    assert detail(api_client, product)["price"] == "20.00"
    assert listed_prices(api_client) == ["20.00"]
    assert listed_prices(api_client, "/api/products/?category=books") == ["20.00"]
    assert listed_prices(api_client, "/api/products/?tag=sale") == ["20.00"]
    assert listed_prices(api_client, "/api/products/?ordering=-price&page_size=1") == [
        "20.00"
    ]
    assert listed_prices(api_client, "/api/products/?search=dune") == ["20.00"]
    assert listed_prices(api_client, "/api/products/?min_price=10&in_stock=true") == [
        "20.00"
    ]
    stats = api_client.get("/api/catalog/stats/").json()
    assert stats["categories"][0]["max_price"] == "20.00"


def test_orm_save_refreshes_api_reads(api_client, product):
    warm(api_client, product)
    product.price = "30.00"
    product.save()
    assert detail(api_client, product)["price"] == "30.00"
    assert listed_prices(api_client, "/api/products/?category=books") == ["30.00"]


def test_queryset_update_refreshes_api_reads(api_client, product):
    warm(api_client, product)
    Product.objects.filter(pk=product.pk).update(price="40.00", stock=0)
    assert detail(api_client, product)["price"] == "40.00"
    assert listed_prices(api_client) == ["40.00"]
    assert listed_prices(api_client, "/api/products/?min_price=10&in_stock=true") == []


def test_deactivating_removes_product_from_public_reads(api_client, product):
    warm(api_client, product)
    Product.objects.filter(pk=product.pk).update(is_active=False)
    assert api_client.get(f"/api/products/{product.pk}/").status_code == 404
    assert api_client.get("/api/products/").json()["count"] == 0
    assert api_client.get("/api/catalog/stats/").json()["active_products"] == 0


def test_insert_and_bulk_create_refresh_lists_and_stats(api_client, product, category):
    warm(api_client, product)
    ProductFactory(name="Emma", category=category, price="11.00")
    Product.objects.bulk_create(
        [Product(sku="B-3", name="Ulysses", slug="u", price=5, category=category)]
    )
    assert api_client.get("/api/products/?category=books").json()["count"] == 3
    assert api_client.get("/api/catalog/stats/").json()["products"] == 3


def test_deletes_refresh_detail_and_lists(api_client, staff_client, product):
    warm(api_client, product)
    other = ProductFactory(category=product.category)
    api_client.get(f"/api/products/{other.pk}/")
    assert staff_client.delete(f"/api/products/{product.pk}/").status_code == 204
    assert api_client.get(f"/api/products/{product.pk}/").status_code == 404
    Product.objects.filter(pk=other.pk).delete()
    assert api_client.get(f"/api/products/{other.pk}/").status_code == 404
    assert api_client.get("/api/products/").json()["count"] == 0


def test_bulk_update_refreshes_api_reads(api_client, product):
    warm(api_client, product)
    product.price = "7.00"
    Product.objects.bulk_update([product], ["price"])
    assert detail(api_client, product)["price"] == "7.00"
    assert listed_prices(api_client) == ["7.00"]


def test_m2m_change_refreshes_tags_and_tag_filters(api_client, product, tag):
    warm(api_client, product)
    extra = TagFactory(slug="new")
    product.tags.add(extra)
    assert sorted(detail(api_client, product)["tags"]) == ["new", "sale"]
    assert api_client.get("/api/products/?tag=new").json()["count"] == 1
    tag.products.remove(product)
    assert detail(api_client, product)["tags"] == ["new"]
    assert api_client.get("/api/products/?tag=sale").json()["count"] == 0


def test_category_rename_refreshes_product_detail_and_lists(
    api_client, staff_client, product
):
    warm(api_client, product)
    response = staff_client.patch(
        "/api/categories/books/", {"name": "Novels"}, format="json"
    )
    assert response.status_code == 200
    assert detail(api_client, product)["category"]["name"] == "Novels"
    assert (
        api_client.get("/api/products/").json()["results"][0]["category"]["name"]
        == "Novels"
    )


def test_tag_rename_refreshes_products_that_show_it(api_client, product, tag):
    warm(api_client, product)
    tag.slug = "bargain"
    tag.save()
    assert detail(api_client, product)["tags"] == ["bargain"]
    assert api_client.get("/api/products/?tag=bargain").json()["count"] == 1


def test_user_change_refreshes_profile_reads(api_client, user_client, user):
    get_twice(api_client, "/api/profiles/alice/")
    get_twice(api_client, "/api/profiles/")
    get_twice(user_client, "/api/profiles/me/")
    user.username = "alicia"
    user.email = "alicia@example.com"
    user.save()
    assert api_client.get("/api/profiles/alice/").status_code == 404
    assert api_client.get("/api/profiles/alicia/").json()["username"] == "alicia"
    assert api_client.get("/api/profiles/").json()["results"][0]["username"] == "alicia"
    assert user_client.get("/api/profiles/me/").json()["email"] == "alicia@example.com"


def test_profile_going_private_is_404_to_others_at_once(api_client, user_client, user):
    get_twice(api_client, "/api/profiles/alice/")
    response = user_client.patch(
        "/api/profiles/me/", {"is_public": False}, format="json"
    )
    assert response.status_code == 200
    assert api_client.get("/api/profiles/alice/").status_code == 404
    assert api_client.get("/api/profiles/").json()["count"] == 0


def test_new_user_appears_in_profile_list(api_client, user):
    assert api_client.get("/api/profiles/").json()["count"] == 1
    api_client.get("/api/profiles/")
    get_user_model().objects.create_user("zed", "zed@example.com", "pw")
    assert api_client.get("/api/profiles/").json()["count"] == 2


def test_new_category_appears_in_category_list(api_client, category):
    get_twice(api_client, "/api/categories/")
    CategoryFactory(slug="games", name="Games")
    assert api_client.get("/api/categories/").json()["count"] == 2


# --- privacy ---------------------------------------------------------------


def test_staff_view_of_inactive_product_is_not_served_to_others(
    api_client, user_client, staff_client
):
    hidden = ProductFactory(is_active=False)
    url = f"/api/products/{hidden.pk}/"
    get_twice(staff_client, url)
    get_twice(staff_client, "/api/products/")
    assert api_client.get(url).status_code == 404
    assert user_client.get(url).status_code == 404
    assert api_client.get("/api/products/").json()["count"] == 0
    assert user_client.get("/api/products/").json()["count"] == 0


def test_owner_email_is_never_served_to_others(
    api_client, user_client, other_client, staff_client, user, other_user
):
    url = "/api/profiles/alice/"
    assert get_twice(user_client, url)["email"] == "alice@example.com"
    assert (
        get_twice(user_client, "/api/profiles/")["results"][0]["email"]
        == "alice@example.com"
    )
    for client in (api_client, other_client):
        assert "email" not in client.get(url).json()
        rows = client.get("/api/profiles/").json()["results"]
        alice_row = next(row for row in rows if row["username"] == "alice")
        assert "email" not in alice_row
    assert staff_client.get(url).json()["email"] == "alice@example.com"


def test_me_is_cached_per_user(user_client, other_client, user, other_user):
    assert get_twice(user_client, "/api/profiles/me/")["username"] == "alice"
    assert get_twice(other_client, "/api/profiles/me/")["username"] == "bob"


def test_each_staff_member_gets_their_own_me(staff_client, staff_user):
    from tests.conftest import token_client
    from tests.factories import UserFactory

    second = token_client(UserFactory(username="boss", is_staff=True))
    assert get_twice(staff_client, "/api/profiles/me/")["username"] == "staff"
    assert second.get("/api/profiles/me/").json()["username"] == "boss"


def test_private_profile_cached_for_owner_is_not_served_to_others(
    api_client, user_client, other_client, user
):
    Profile.objects.filter(user=user).update(is_public=False)
    get_twice(user_client, "/api/profiles/alice/")
    assert api_client.get("/api/profiles/alice/").status_code == 404
    assert other_client.get("/api/profiles/alice/").status_code == 404


def test_list_links_come_from_public_url_whatever_the_host(
    api_client, product, settings
):
    """Links never follow the Host header: one entry serves every allowed host
    and port (CONTRACT 4.12), and equal queries get equal links."""
    settings.ALLOWED_HOSTS = ["shop.example", "127.0.0.1"]
    settings.PUBLIC_URL = "https://shop.example"
    ProductFactory.create_batch(3, category=product.category)
    one = api_client.get("/api/products/?page_size=2", HTTP_HOST="shop.example")
    two = api_client.get("/api/products/?page_size=2", HTTP_HOST="127.0.0.1:9999")
    assert one.json()["next"] == "https://shop.example/api/products/?page=2&page_size=2"
    assert (one["X-Cache"], two["X-Cache"]) == ("MISS", "HIT")
    assert two.content == one.content
