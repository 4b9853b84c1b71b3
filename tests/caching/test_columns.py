"""
What a cached query depends on, column by column (caching.orm.columns): ids,
values and counts read the membership of their tables and the columns they
filter, join and order on; what the walk cannot see through keeps the table
stamps. And every write path stamps what it changes.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.db.models.expressions import RawSQL

from caching import invalidate
from caching.orm import columns
from caching.orm import deps as dep
from tests.caching.testapp.models import Book, Label, Shelf

pytestmark = pytest.mark.django_db(transaction=True)


def test_ids_read_their_filter_order_and_join_columns():
    found = columns.query_deps(
        Book.objects.filter(is_active=True, shelf__slug="a")
        .order_by("-price")
        .values_list("pk", flat=True)
    )
    assert found == sorted(
        {
            dep.members(Book),
            dep.members(Shelf),
            dep.column(Book, "id"),
            dep.column(Book, "is_active"),
            dep.column(Book, "price"),
            dep.column(Book, "shelf_id"),
            dep.column(Shelf, "id"),
            dep.column(Shelf, "slug"),
        }
    )


def test_a_count_reads_what_it_filters_on_not_what_it_selects():
    found = columns.query_deps(Book.objects.filter(stock__gt=0), rows=False)
    assert found == [dep.column(Book, "stock"), dep.members(Book)]


def test_what_the_walk_cannot_see_through_keeps_the_table_stamps():
    newest = Book.objects.filter(shelf=OuterRef("pk")).values("pk")[:1]
    assert columns.query_deps(Shelf.objects.annotate(b=Subquery(newest))) is None
    raw = Book.objects.annotate(x=RawSQL("stock * 2", [])).values_list("x")
    assert columns.query_deps(raw) is None
    assert columns.query_deps(Book.objects.extra(where=["stock > 1"])) is None
    union = Book.objects.values_list("pk").union(Label.objects.values_list("pk"))
    assert columns.query_deps(union) is None


def test_a_queryset_of_whole_rows_keeps_its_table_stamps():
    assert dep.table(Book) in Book.objects.cached().filter(stock=1).dependencies()


def stamped_by(write) -> set:
    from caching import signals

    wires: list[str] = []

    def record(sender, wire, **kwargs):
        wires.append(wire)

    signals.cache_invalidated.connect(record)
    try:
        write()
    finally:
        signals.cache_invalidated.disconnect(record)
    return {tuple(d.split("|", 1)) for wire in wires for d in wire.split(";")}


def test_each_write_path_stamps_columns_or_membership(book):
    update = stamped_by(lambda: Book.objects.filter(pk=book.pk).update(stock=3))
    assert dep.column(Book, "stock") in update
    assert dep.members(Book) not in update
    assert dep.table(Book) in update  # what depends on the table is as before
    insert = stamped_by(
        lambda: Book.objects.create(sku="n", name="n", price=1, shelf=book.shelf)
    )
    assert dep.members(Book) in insert
    delete = stamped_by(lambda: Book.objects.filter(sku="n").delete())
    assert dep.members(Book) in delete

    def raw():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE testapp_book SET stock = 4")

    assert dep.members(Book) in stamped_by(raw)
    assert dep.members(Book) in stamped_by(lambda: invalidate(book))
    assert dep.members(Book) in stamped_by(lambda: invalidate(Book))


def test_a_primary_key_cannot_pass_for_a_table_stamp():
    from caching.store.keys import pk_part

    assert pk_part(Label, "#:m") != "#:m"
    assert pk_part(Label, "*") != "*"
    assert pk_part(Label, "12") == "12"
