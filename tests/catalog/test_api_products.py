"""The product endpoints of CONTRACT section 3: shapes, filters, rules, errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory, TagFactory

pytestmark = pytest.mark.django_db

URL = "/api/products/"


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_product_json_has_the_contract_fields(api_client, product, category, tag):
    body = api_client.get(f"{URL}{product.pk}/").json()
    assert body["sku"] == "BOOK-1"
    assert body["price"] == "12.50"
    assert body["category"] == {"id": category.pk, "name": "Books", "slug": "books"}
    assert body["tags"] == ["sale"]
    for field in ("id", "name", "slug", "description", "stock", "is_active"):
        assert field in body
    assert body["created_at"]
    assert body["updated_at"]


def test_a_detail_is_its_serializers_json_without_a_serializer_per_request(
    api_client, product, monkeypatch
):
    """The detail view renders with the class's one serializer (no fields
    copied per request, a tenth of a miss): the same JSON a serializer built
    for the request gives."""
    from catalog.api.serializers import ProductSerializer

    ProductSerializer.represent(product)  # the class's one serializer, built
    built: list = []
    get_fields = ProductSerializer.get_fields

    def counted(self):
        built.append(self)
        return get_fields(self)

    monkeypatch.setattr(ProductSerializer, "get_fields", counted)
    response = api_client.get(f"{URL}{product.pk}/")
    assert built == []
    expected = JSONRenderer().render(ProductSerializer(product).data)
    assert response.content == expected
    assert json.loads(expected)["tags"] == ["sale"]


def test_list_is_paginated_20_by_default_in_id_order(api_client):
    ProductFactory.create_batch(25)
    body = api_client.get(URL).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 25
    assert len(body["results"]) == 20
    assert ids_sorted(body)
    assert body["previous"] is None
    assert "page=2" in body["next"]
    second = api_client.get(URL, {"page": 2}).json()
    assert len(second["results"]) == 5


def ids_sorted(body) -> bool:
    found = [row["id"] for row in body["results"]]
    return found == sorted(found)


def test_page_size_is_capped_at_100(api_client):
    ProductFactory.create_batch(105)
    assert len(api_client.get(URL, {"page_size": 500}).json()["results"]) == 100
    assert len(api_client.get(URL, {"page_size": 7}).json()["results"]) == 7


def test_filters_by_category_and_tag(api_client):
    books, games = CategoryFactory(slug="books"), CategoryFactory(slug="games")
    sale = TagFactory(slug="sale")
    a = ProductFactory(category=books, tags=[sale])
    b = ProductFactory(category=books)
    c = ProductFactory(category=games, tags=[sale])
    assert ids(api_client.get(URL, {"category": "books"})) == [a.pk, b.pk]
    assert ids(api_client.get(URL, {"tag": "sale"})) == [a.pk, c.pk]
    assert ids(api_client.get(URL, {"tag": "sale", "category": "games"})) == [c.pk]
    assert ids(api_client.get(URL, {"category": "nothing"})) == []


def test_filters_by_price_range_and_stock(api_client):
    cheap = ProductFactory(price=Decimal("5.00"), stock=0)
    mid = ProductFactory(price=Decimal("50.00"), stock=2)
    dear = ProductFactory(price=Decimal("500.00"), stock=9)
    assert ids(api_client.get(URL, {"min_price": "50"})) == [mid.pk, dear.pk]
    assert ids(api_client.get(URL, {"max_price": "50"})) == [cheap.pk, mid.pk]
    assert ids(api_client.get(URL, {"min_price": 6, "max_price": 499})) == [mid.pk]
    assert ids(api_client.get(URL, {"in_stock": "true"})) == [mid.pk, dear.pk]


def test_search_covers_name_sku_and_description(api_client):
    by_name = ProductFactory(name="Blue kettle", description="x")
    by_sku = ProductFactory(sku="KETTLE-9", name="Pot", description="y")
    by_text = ProductFactory(name="Pan", description="Pairs with a kettle")
    ProductFactory(name="Spoon", description="z")
    found = ids(api_client.get(URL, {"search": "kettle"}))
    assert found == [by_name.pk, by_sku.pk, by_text.pk]


@pytest.mark.parametrize("field", ["id", "price", "name", "created_at"])
def test_ordering_by_each_field_both_ways(api_client, field):
    products = [
        ProductFactory(name=name, price=Decimal(price))
        for name, price in [("b", "2"), ("c", "1"), ("a", "3")]
    ]
    expected = [p.pk for p in sorted(products, key=lambda p: getattr(p, field))]
    assert ids(api_client.get(URL, {"ordering": field})) == expected
    assert ids(api_client.get(URL, {"ordering": f"-{field}"})) == expected[::-1]


def test_inactive_products_are_hidden_from_all_but_staff(
    api_client, user_client, staff_client
):
    hidden = ProductFactory(name="Hidden thing", is_active=False)
    shown = ProductFactory(name="Shown thing")
    for client in (api_client, user_client):
        assert client.get(f"{URL}{hidden.pk}/").status_code == 404
        assert ids(client.get(URL)) == [shown.pk]
        assert ids(client.get(URL, {"search": "thing"})) == [shown.pk]
    assert staff_client.get(f"{URL}{hidden.pk}/").status_code == 200
    assert ids(staff_client.get(URL)) == [hidden.pk, shown.pk]


def test_anonymous_writes_are_401_and_non_staff_403(api_client, user_client, product):
    body = {"sku": "N-1", "name": "New", "price": "1.00", "category": "books"}
    detail = f"{URL}{product.pk}/"
    assert api_client.post(URL, body, format="json").status_code == 401
    assert api_client.patch(detail, {"stock": 1}, format="json").status_code == 401
    assert api_client.delete(detail).status_code == 401
    assert user_client.post(URL, body, format="json").status_code == 403
    assert user_client.put(detail, body, format="json").status_code == 403
    assert user_client.patch(detail, {"stock": 1}, format="json").status_code == 403
    assert user_client.delete(detail).status_code == 403
    assert Product.objects.count() == 1


def test_staff_create_update_delete(staff_client, category, tag):
    created = staff_client.post(
        URL,
        {"sku": "N-1", "name": "New lamp", "price": "9.99", "stock": 4,
         "category": "books", "tags": ["sale"]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["slug"] == "new-lamp"
    assert body["category"]["slug"] == "books"
    assert body["tags"] == ["sale"]
    detail = f"{URL}{body['id']}/"
    put = staff_client.put(
        detail,
        {"sku": "N-1", "name": "Lamp", "price": "10.00", "category": "books"},
        format="json",
    )
    assert put.status_code == 200
    assert put.json()["price"] == "10.00"
    patched = staff_client.patch(detail, {"tags": []}, format="json")
    assert patched.status_code == 200
    assert patched.json()["tags"] == []
    assert staff_client.delete(detail).status_code == 204
    assert not Product.objects.filter(pk=body["id"]).exists()


def test_invalid_bodies_are_400_with_field_errors(staff_client, product):
    response = staff_client.post(
        URL,
        {"sku": "", "name": "x", "price": "-1", "stock": -2, "category": "nope"},
        format="json",
    )
    assert response.status_code == 400
    assert {"sku", "price", "stock", "category"} <= set(response.json())


def test_duplicate_sku_is_400(staff_client, product):
    response = staff_client.post(
        URL, {"sku": "BOOK-1", "name": "Copy", "price": "1.00", "category": "books"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "sku" in response.json()


def test_duplicate_sku_in_a_patch_is_400(staff_client, product):
    """A partial update builds only the fields it sends: sku's own unique
    validator still runs."""
    other = ProductFactory(sku="OTHER-1")
    response = staff_client.patch(f"{URL}{other.pk}/", {"sku": "BOOK-1"}, format="json")
    assert response.status_code == 400
    assert "sku" in response.json()
    other.refresh_from_db()
    assert other.sku == "OTHER-1"


@pytest.mark.parametrize(
    ("query", "status", "names"),
    [
        ({"min_price": "abc"}, 400, "min_price"),
        ({"max_price": "1e"}, 400, "max_price"),
        ({"in_stock": "maybe"}, 400, "in_stock"),
        ({"ordering": "password"}, 400, "ordering"),
        ({"ordering": "-sku"}, 400, "ordering"),
        ({"page": "abc"}, 400, "page"),
        ({"page": "99"}, 404, "page"),
        ({"page_size": "abc"}, 400, "page_size"),
        ({"page_size": "0"}, 400, "page_size"),
    ],
)
def test_bad_list_parameters_are_json_4xx_naming_them(
    api_client, product, query, status, names
):
    response = api_client.get(URL, query)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert names in response.json()


@pytest.mark.parametrize("path", ["abc/", "1x/", "-1/", "99999/"])
def test_bad_or_unknown_ids_are_json_404(api_client, product, path):
    response = api_client.get(URL + path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()


def test_serializers_get_their_own_copies_of_fields_built_once():
    """ProductSerializer builds its fields from the model once (FieldsBuiltOnce);
    each serializer binds its own copies, so no state is shared between them."""
    from catalog.api.serializers import ProductSerializer

    first, second = ProductSerializer(), ProductSerializer(partial=True)
    assert first.fields.keys() == second.fields.keys()
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first
        assert second.fields[name].parent is second
    assert "_field_prototypes" in ProductSerializer.__dict__


def test_staff_browse_products_in_the_browsable_api(staff_client, product):
    """The HTML forms offer categories by slug, what a write sends (keyed by
    the nested dict a read shows, DRF's choices failed with a 500)."""
    for url in (f"/api/products/{product.pk}/", "/api/products/"):
        response = staff_client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert f'<option value="{product.category.slug}"' in response.content.decode()


def test_a_partial_update_of_json_copies_only_the_fields_it_names(product):
    """A PATCH of one column validates with one field copied, not twelve; an
    HTML form and a full update keep every field."""
    from django.http import QueryDict

    from catalog.api.serializers import ProductSerializer

    ProductSerializer(product, data={}, partial=True).is_valid()  # builds validators
    patch = ProductSerializer(product, data={"stock": 3, "nope": 1}, partial=True)
    assert set(patch.fields) == {"stock"}
    assert patch.is_valid(), patch.errors
    assert patch.validated_data == {"stock": 3}
    form = ProductSerializer(product, data=QueryDict("stock=3"), partial=True)
    full = ProductSerializer(product, data={"stock": 3})
    assert set(form.fields) == set(full.fields) == set(ProductSerializer().fields)


def test_a_partial_update_still_validates_what_it_sends(staff_client, product):
    url = f"/api/products/{product.pk}/"
    stock = product.stock
    response = staff_client.patch(
        url, {"stock": stock + 5, "price": "-1", "category": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"price", "category"}
    response = staff_client.patch(url, {"name": "Dune Messiah"}, format="json")
    assert response.status_code == 200
    assert response.json()["slug"] == "dune-messiah"  # validate() sees the name
    product.refresh_from_db()
    assert (product.stock, product.name) == (stock, "Dune Messiah")  # 400 wrote nothing


def test_a_serializer_with_serializer_wide_validators_keeps_every_field(product):
    """A unique-together validator reads its fields from the serializer, even
    on a partial update: such a serializer gets them all."""
    from rest_framework import serializers
    from rest_framework.validators import UniqueTogetherValidator

    from caching import FieldsBuiltOnce
    from catalog.models import Product

    class Checked(FieldsBuiltOnce, serializers.ModelSerializer):
        class Meta:
            model = Product
            fields = ["id", "sku", "name", "stock"]
            validators = [
                UniqueTogetherValidator(Product.objects.all(), fields=["sku", "name"])
            ]

    for _ in range(2):  # the second after the validators are built
        patch = Checked(product, data={"stock": 3}, partial=True)
        assert patch.is_valid(), patch.errors
        assert set(patch.fields) == {"id", "sku", "name", "stock"}
