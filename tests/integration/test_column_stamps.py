"""
Stamps per column (caching.orm.deps, caching.orm.columns): a list's length and
page ids depend on the membership of the tables they read and on the columns
they filter and order on; a page assembled from its items' entries depends on
those and on its items' rows. An UPDATE of another column costs only the pages
that show the row; any change that can move a row into or out of a page, or
change its order, still makes the page unservable, whatever the write path.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from caching import store
from caching.store import keys
from catalog.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

BY_PRICE = "/api/products/?ordering=price"
BY_NAME = "/api/products/?ordering=name"


@pytest.fixture
def catalog(category, tag):
    """40 products, two pages whatever the order: prices and names rise together."""
    return [
        ProductFactory(
            category=category, tags=[tag], name=f"p{n:02}", price=Decimal(10 + n)
        )
        for n in range(40)
    ]


def page(api_client, url, number=1):
    return api_client.get(url if number == 1 else f"{url}&page={number}")


def ids(response) -> list[int]:
    return [p["id"] for p in response.json()["results"]]


def test_a_stock_write_costs_only_the_page_showing_it(
    api_client, staff_client, catalog
):
    first, second = page(api_client, BY_PRICE), page(api_client, BY_PRICE, 2)
    changed = catalog[3]  # on page 1
    assert changed.pk in ids(first)
    response = staff_client.patch(
        f"/api/products/{changed.pk}/", {"stock": 777}, format="json"
    )
    assert response.status_code == 200
    again = page(api_client, BY_PRICE, 2)
    assert again["X-Cache"] == "HIT"
    assert again.content == second.content
    shown = page(api_client, BY_PRICE)
    assert shown["X-Cache"] == "MISS"
    stocks = {p["id"]: p["stock"] for p in shown.json()["results"]}
    assert stocks[changed.pk] == 777


def test_a_rename_moves_a_product_into_another_name_page(api_client, catalog):
    assert catalog[5].pk in ids(page(api_client, BY_NAME))
    second = page(api_client, BY_NAME, 2)
    assert catalog[5].pk not in ids(second)
    Product.objects.filter(pk=catalog[5].pk).update(name="zz last")
    assert ids(page(api_client, BY_NAME, 2))[-1] == catalog[5].pk
    assert catalog[5].pk not in ids(page(api_client, BY_NAME))


def test_a_price_change_reorders_the_price_pages(api_client, catalog):
    page(api_client, BY_PRICE)
    page(api_client, BY_PRICE, 2)
    cheapest = catalog[-1]
    Product.objects.filter(pk=cheapest.pk).update(price=Decimal("1.00"))
    assert ids(page(api_client, BY_PRICE))[0] == cheapest.pk
    assert cheapest.pk not in ids(page(api_client, BY_PRICE, 2))


def test_deactivating_a_product_takes_it_out_of_the_count_and_the_pages(
    api_client, catalog
):
    assert page(api_client, BY_NAME).json()["count"] == 40
    page(api_client, BY_NAME, 2)
    Product.objects.filter(name__in=["p00", "p30"]).update(is_active=False)
    first, second = page(api_client, BY_NAME), page(api_client, BY_NAME, 2)
    assert first.json()["count"] == 38
    assert catalog[0].pk not in ids(first)
    assert ids(first)[-1] == catalog[20].pk  # the second page's first moved up
    assert catalog[30].pk not in ids(second)


def test_raw_sql_and_bulk_update_are_seen_by_the_pages(api_client, catalog):
    page(api_client, BY_PRICE)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_product SET stock = 555 WHERE id = %s", [catalog[1].pk]
        )
    stocks = {p["id"]: p["stock"] for p in page(api_client, BY_PRICE).json()["results"]}
    assert stocks[catalog[1].pk] == 555
    catalog[2].stock = 444
    Product.objects.bulk_update([catalog[2]], ["stock"])
    stocks = {p["id"]: p["stock"] for p in page(api_client, BY_PRICE).json()["results"]}
    assert stocks[catalog[2].pk] == 444


def test_a_new_product_enters_the_count_and_its_page(api_client, catalog, category):
    page(api_client, BY_PRICE)
    cheapest = ProductFactory(category=category, price=Decimal("0.50"))
    first = page(api_client, BY_PRICE)
    assert first.json()["count"] == 41
    assert ids(first)[0] == cheapest.pk


def test_a_page_assembled_before_a_write_to_one_of_its_rows_is_not_filled(
    api_client, catalog
):
    """I1 for the page: its ids and items were read, a stock change to one of
    them committed before the page's fill. The ids are still right (stock is
    neither filtered nor ordered on), but the page showed the old stock: its
    fill is refused, and the next request shows the new stock."""
    target = catalog[4]
    key = keys.response_key("/api/products/", "public", "ordering=price")
    writes = [lambda: Product.objects.filter(pk=target.pk).update(stock=999)]

    def write_before_its_fill(filling: str) -> None:
        if filling == key and writes:
            writes.pop()()

    store.before_fill.append(write_before_its_fill)
    try:
        stale = page(api_client, BY_PRICE)
    finally:
        store.before_fill.remove(write_before_its_fill)
    assert not writes
    assert {p["id"]: p["stock"] for p in stale.json()["results"]}[target.pk] != 999
    again = page(api_client, BY_PRICE)
    assert again["X-Cache"] == "MISS"
    assert {p["id"]: p["stock"] for p in again.json()["results"]}[target.pk] == 999
