"""Categories and tags: read by anyone, written by staff, looked up by slug."""

from __future__ import annotations

import pytest

from catalog.models import Category, Tag
from tests.factories import CategoryFactory, ProductFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "factory"),
    [("/api/categories/", CategoryFactory), ("/api/tags/", TagFactory)],
)
def test_list_and_detail_by_slug(api_client, url, factory):
    factory(name="Beta", slug="beta")
    factory(name="Alpha", slug="alpha")
    body = api_client.get(url).json()
    assert [row["slug"] for row in body["results"]] == ["alpha", "beta"]
    detail = api_client.get(f"{url}beta/")
    assert detail.status_code == 200
    assert set(detail.json()) == {"id", "name", "slug"}
    assert api_client.get(f"{url}missing/").status_code == 404


@pytest.mark.parametrize(
    ("url", "model"), [("/api/categories/", Category), ("/api/tags/", Tag)]
)
def test_writes_need_staff(api_client, user_client, staff_client, url, model):
    body = {"name": "Garden", "slug": "garden"}
    assert api_client.post(url, body, format="json").status_code == 401
    assert user_client.post(url, body, format="json").status_code == 403
    assert staff_client.post(url, body, format="json").status_code == 201
    assert (
        staff_client.patch(f"{url}garden/", {"name": "Yard"}, format="json").status_code
        == 200
    )
    assert model.objects.get(slug="garden").name == "Yard"
    duplicate = staff_client.post(
        url, {"name": "Other", "slug": "garden"}, format="json"
    )
    assert duplicate.status_code == 400
    assert "slug" in duplicate.json()
    assert staff_client.delete(f"{url}garden/").status_code == 204


def test_deleting_a_category_in_use_is_a_409(staff_client, product):
    response = staff_client.delete("/api/categories/books/")
    assert response.status_code == 409
    assert "detail" in response.json()
    assert Category.objects.filter(slug="books").exists()


def test_stats_count_all_and_cover_active_products_per_category(api_client):
    books, _games = CategoryFactory(slug="books"), CategoryFactory(slug="games")
    ProductFactory(category=books, price="10.00")
    ProductFactory(category=books, price="20.00")
    ProductFactory(category=books, price="999.00", is_active=False)
    body = api_client.get("/api/catalog/stats/").json()
    assert body["products"] == 3
    assert body["active_products"] == 2
    by_slug = {row["slug"]: row for row in body["categories"]}
    assert by_slug["books"] == {
        "slug": "books", "count": 2, "min_price": "10.00", "max_price": "20.00",
        "avg_price": "15.00",
    }  # fmt: skip
    assert by_slug["games"]["count"] == 0
    assert by_slug["games"]["avg_price"] is None
    assert api_client.get("/api/catalog/stats/").json() == body
