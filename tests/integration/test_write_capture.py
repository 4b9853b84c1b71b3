"""
Every write Django executes invalidates (CONTRACT 4.2, 4.10): managers that are
not ours (auth.User, Token), M2M through tables, bulk and queryset writes,
cascades and SQL sent through Django's cursor; and a change's own entries are
deleted from Redis, not merely left unservable.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from caching import store
from caching.models import PendingInvalidation
from caching.orm import capture
from caching.store import keys
from catalog.models import Category, Product
from tests.conftest import token_client
from tests.factories import ProductFactory, TagFactory

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def detail(client, product) -> dict:
    response = client.get(f"/api/products/{product.pk}/")
    assert response.status_code == 200
    return response.json()


def warm(client, *urls: str) -> None:
    for url in urls:
        client.get(url)
        assert client.get(url)["X-Cache"] == "HIT", url


# --- auth.User and Token keep Django's plain managers ---------------------------


def test_demotion_by_queryset_update_takes_effect_at_the_next_request(
    staff_user, product
):
    staff = token_client(staff_user)
    hidden = ProductFactory(is_active=False)
    url = f"/api/products/{hidden.pk}/"
    warm(staff, url)
    User.objects.filter(username=staff_user.username).update(is_staff=False)
    assert staff.get(url).status_code == 404
    patch = staff.patch(
        f"/api/products/{product.pk}/", {"price": "1.00"}, format="json"
    )
    assert patch.status_code == 403


def test_deactivation_by_queryset_update_refuses_the_token_at_once(user, product):
    client = token_client(user)
    warm(client, "/api/profiles/me/")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/api/profiles/me/").status_code == 401


def test_email_changed_by_queryset_update_shows_on_me_at_once(user):
    client = token_client(user)
    warm(client, "/api/profiles/me/")
    User.objects.filter(username="alice").update(email="alice@new.example")
    assert client.get("/api/profiles/me/").json()["email"] == "alice@new.example"


def test_password_changed_by_queryset_update_takes_effect_at_once(user, api_client):
    def login(password: str) -> int:
        return api_client.post(
            "/api/auth/token/", {"username": "alice", "password": password}
        ).status_code

    assert login("password") == 200
    User.objects.filter(pk=user.pk).update(password=make_password("n3w-secret"))
    assert login("password") == 400
    assert login("n3w-secret") == 200


def test_token_deleted_by_queryset_delete_is_refused_at_once(user, product):
    client = token_client(user)
    warm(client, "/api/profiles/me/")
    Token.objects.filter(user=user).delete()  # a fast delete: no signal
    assert client.get("/api/profiles/me/").status_code == 401


def test_user_demoted_in_the_admin_loses_staff_at_once(client, staff_user, product):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root-1")
    staff = token_client(staff_user)
    hidden = ProductFactory(is_active=False)
    warm(staff, f"/api/products/{hidden.pk}/")
    client.force_login(admin)
    page = client.get(f"/admin/auth/user/{staff_user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in {"is_staff", "groups", "user_permissions"}
    }
    data.update(
        {
            "date_joined_0": staff_user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": staff_user.date_joined.strftime("%H:%M:%S"),
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-id": str(staff_user.profile.pk),
            "profile-0-user": str(staff_user.pk),
            "profile-0-is_public": "on",
        }
    )
    data.pop("last_login", None)
    response = client.post(f"/admin/auth/user/{staff_user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not User.objects.get(pk=staff_user.pk).is_staff
    assert staff.get(f"/api/products/{hidden.pk}/").status_code == 404


# --- M2M through tables ----------------------------------------------------------


def test_through_rows_deleted_directly_drop_the_tag(api_client, product, tag):
    urls = [f"/api/products/{product.pk}/", "/api/products/"]
    warm(api_client, *urls)
    Product.tags.through.objects.filter(product_id=product.pk).delete()
    assert detail(api_client, product)["tags"] == []
    assert api_client.get(urls[1]).json()["results"][0]["tags"] == []


def test_through_rows_deleted_by_the_other_side_drop_the_tag(api_client, product, tag):
    warm(api_client, f"/api/products/{product.pk}/")
    Product.tags.through.objects.filter(tag_id=tag.pk).delete()  # no product named
    assert detail(api_client, product)["tags"] == []


def test_through_rows_bulk_created_show_the_tag(api_client, product):
    new = TagFactory(slug="new")
    warm(api_client, f"/api/products/{product.pk}/", "/api/products/?tag=new")
    through = Product.tags.through
    through.objects.bulk_create([through(product_id=product.pk, tag_id=new.pk)])
    assert "new" in detail(api_client, product)["tags"]
    assert api_client.get("/api/products/?tag=new").json()["count"] == 1


def test_a_tag_change_elsewhere_leaves_other_products_cached(api_client, product):
    """Rows named by a through write are stamped, not every product."""
    other = ProductFactory()
    warm(api_client, f"/api/products/{other.pk}/")
    product.tags.add(TagFactory(slug="new"))
    assert api_client.get(f"/api/products/{other.pk}/")["X-Cache"] == "HIT"
    assert "new" in detail(api_client, product)["tags"]


# --- SQL through Django's cursor -------------------------------------------------


def test_raw_update_in_autocommit_invalidates(api_client, product):
    urls = [f"/api/products/{product.pk}/", "/api/products/"]
    warm(api_client, *urls)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Product._meta.db_table} SET name = %s WHERE id = %s",
            ["Raw", product.pk],
        )
    assert detail(api_client, product)["name"] == "Raw"
    assert api_client.get(urls[1]).json()["results"][0]["name"] == "Raw"


def test_raw_update_in_a_transaction_invalidates_on_commit(api_client, product, redis):
    warm(api_client, f"/api/products/{product.pk}/")
    stamps = keys.version_key(Product)
    before = redis.hget(stamps, "*")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Product._meta.db_table} SET stock = 0")
        assert redis.hget(stamps, "*") == before  # not before the commit (I2)
    assert detail(api_client, product)["stock"] == 0


def test_raw_sql_finds_tables_but_not_reads_or_lookalikes():
    written = capture.tables_written
    assert written("UPDATE catalog_product SET stock = 0") == [Product]
    assert written('delete from "catalog_product_tags" where tag_id = 1') == [
        Product.tags.through
    ]
    assert written("SELECT * FROM catalog_product") == []
    assert written("UPDATE catalog_productx SET a = 1") == []
    assert written("INSERT INTO django_session VALUES (1)") == []  # untracked


# --- cascades and bulk paths -----------------------------------------------------


def test_deleting_a_tag_cascades_to_the_products_showing_it(api_client, product, tag):
    warm(api_client, f"/api/products/{product.pk}/", "/api/tags/")
    tag.delete()
    assert detail(api_client, product)["tags"] == []
    assert api_client.get("/api/tags/").json()["count"] == 0


def test_deleting_a_user_cascades_to_their_profile(api_client, other_user):
    url = f"/api/profiles/{other_user.username}/"
    warm(api_client, url, "/api/profiles/")
    other_user.delete()
    assert api_client.get(url).status_code == 404
    assert api_client.get("/api/profiles/").json()["count"] == 0


def test_a_protected_category_delete_changes_nothing(api_client, product, category):
    warm(api_client, f"/api/products/{product.pk}/")
    staff = token_client(User.objects.create_user("s", is_staff=True))
    assert staff.delete(f"/api/categories/{category.slug}/").status_code == 409
    assert api_client.get(f"/api/products/{product.pk}/")["X-Cache"] == "HIT"


def test_update_or_create_and_bulk_update_invalidate(api_client, product):
    warm(api_client, f"/api/products/{product.pk}/")
    Product.objects.update_or_create(sku=product.sku, defaults={"name": "Upserted"})
    assert detail(api_client, product)["name"] == "Upserted"
    product.refresh_from_db()
    product.price = Decimal("3.00")
    Product.objects.bulk_update([product], ["price"])
    assert detail(api_client, product)["price"] == "3.00"


def test_bulk_create_with_update_conflicts_refreshes_existing_rows(
    api_client, product, category
):
    if not connection.features.supports_update_conflicts_with_target:
        pytest.skip("the database has no ON CONFLICT ... DO UPDATE")
    warm(api_client, f"/api/products/{product.pk}/")
    Product.objects.bulk_create(
        [Product(sku=product.sku, name="Upsert", slug="u", price=1, category=category)],
        update_conflicts=True,
        unique_fields=["sku"],
        update_fields=["name"],
    )
    assert detail(api_client, product)["name"] == "Upsert"


# --- the seed's DEL: a change deletes the object's own entries -------------------


def test_a_save_deletes_the_objects_own_entries(api_client, product, redis):
    url = f"/api/products/{product.pk}/"
    warm(api_client, url, "/api/products/")
    Product.objects.get_cached(pk=product.pk)
    own = [keys.object_key(Product, product.pk), keys.response_key(url, "public")]
    listing = api_client.get("/api/products/")
    assert all(redis.exists(key) for key in own)
    product.name = "Changed"
    product.save()
    assert [redis.exists(key) for key in own] == [0, 0]
    # Entries that merely include it stay, unservable.
    list_keys = list(redis.scan_iter(match=f"{keys.pattern()[:-1]}r:/api/products/:*"))
    assert list_keys
    assert all(not store.read(k.decode(), lease=False).hit for k in list_keys)
    assert listing.json()["results"][0]["name"] == "Dune"


def test_a_save_deletes_entries_keyed_by_slug_and_username(api_client, user, redis):
    category = Category.objects.create(name="Games", slug="games")
    url = f"/api/categories/{category.slug}/"
    profile_url = f"/api/profiles/{user.username}/"
    warm(api_client, url, profile_url)
    category.name = "Board games"
    category.save()
    assert redis.exists(keys.response_key(url)) == 0
    user.profile.bio = "New"
    user.profile.save()
    assert redis.exists(keys.response_key(profile_url, "public")) == 0


def test_write_through_puts_the_new_value_back(
    staff_client, api_client, product, redis
):
    url = f"/api/products/{product.pk}/"
    warm(api_client, url)
    assert staff_client.patch(url, {"name": "New"}, format="json").status_code == 200
    raw = redis.get(keys.response_key(url, "public"))
    assert raw is not None
    assert b'"name":"New"' in raw
    assert api_client.get(url)["X-Cache"] == "HIT"


def test_a_deleted_tokens_entry_goes_from_redis(user, redis):
    client = token_client(user)
    warm(client, "/api/profiles/me/")
    token = Token.objects.get(user=user)
    key = keys.token_key(token.key)
    assert redis.exists(key)
    token.delete()
    assert redis.exists(key) == 0


# --- one transaction, one invalidation -------------------------------------------


def test_a_save_in_a_transaction_owes_one_outbox_row(product, redis):
    before = redis.get(keys.clock_key())
    with transaction.atomic():
        product.name = "Once"
        product.save()  # its UPDATE and its post_save
        Product.objects.filter(pk=product.pk).update(stock=9)  # the same row
        assert PendingInvalidation.objects.count() == 1
        Product.objects.filter(stock__gte=0).update(stock=8)  # rows unnamed: "*"
        assert PendingInvalidation.objects.count() == 2
    assert int(redis.get(keys.clock_key())) == int(before) + 1  # one script
    assert PendingInvalidation.objects.count() == 0


def test_a_rolled_back_savepoint_keeps_what_the_outer_transaction_owes(
    api_client, product
):
    warm(api_client, f"/api/products/{product.pk}/")
    with transaction.atomic():
        with transaction.atomic():
            Product.objects.filter(pk=product.pk).update(name="Inner, rolled back")
            transaction.set_rollback(True)
        Product.objects.filter(pk=product.pk).update(stock=7)
    assert detail(api_client, product)["stock"] == 7


def test_an_outer_write_stays_owed_when_a_savepoint_repeating_it_rolls_back(
    api_client, product
):
    warm(api_client, f"/api/products/{product.pk}/")
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(stock=5)
        with transaction.atomic():
            Product.objects.filter(pk=product.pk).update(stock=6)
            transaction.set_rollback(True)
    assert detail(api_client, product)["stock"] == 5


def test_writes_to_untracked_apps_cost_nothing(redis):
    before = redis.get(keys.clock_key())
    session = SessionStore()
    session["cart"] = [1, 2]
    session.save()
    assert redis.get(keys.clock_key()) == before
    assert PendingInvalidation.objects.count() == 0
