"""The admin: each model's pages work, and its saves and deletes invalidate."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client_(db):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/catalog/product/",
        "/admin/catalog/product/?q=dune&is_active__exact=1",
        "/admin/catalog/category/",
        "/admin/catalog/tag/?q=sale",
        "/admin/users/profile/?is_public__exact=1",
        "/admin/catalog/product/add/",
        "/admin/auth/user/add/",
    ],
)
def test_admin_pages_load(admin_client_, product, url):
    assert admin_client_.get(url).status_code == 200


def test_admin_change_page_for_each_object(admin_client_, product, user):
    from users.models import Profile

    for url in (
        f"/admin/catalog/product/{product.pk}/change/",
        f"/admin/catalog/category/{product.category_id}/change/",
        f"/admin/users/profile/{Profile.objects.get(user=user).pk}/change/",
        f"/admin/auth/user/{user.pk}/change/",
    ):
        assert admin_client_.get(url).status_code == 200, url


def test_admin_save_invalidates_the_api(
    admin_client_, api_client, product, category, tag
):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    assert api_client.get(url)["X-Cache"] == "HIT"
    response = admin_client_.post(
        f"/admin/catalog/product/{product.pk}/change/",
        {
            "sku": product.sku, "name": "Dune", "slug": "dune", "category": category.pk,
            "tags": [tag.pk], "description": "", "price": "44.00", "stock": 3,
            "is_active": "on",
        },
    )  # fmt: skip
    assert response.status_code == 302
    assert api_client.get(url).json()["price"] == "44.00"


def test_admin_delete_invalidates_the_api(admin_client_, api_client, product):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    response = admin_client_.post(
        "/admin/catalog/product/",
        {"action": "delete_selected", "_selected_action": [product.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Product.objects.exists()
    assert api_client.get(url).status_code == 404


def test_admin_can_add_a_user_without_a_duplicate_profile(admin_client_):
    response = admin_client_.post(
        "/admin/auth/user/add/",
        {"username": "newbie", "password1": "a-long-pass-1",
         "password2": "a-long-pass-1", "usable_password": "true"},
    )  # fmt: skip
    assert response.status_code == 302
    from users.models import Profile

    assert Profile.objects.filter(user__username="newbie").count() == 1


def test_cache_page_shows_statistics_and_clears_a_model(
    admin_client_, api_client, product
):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    api_client.get(url)
    product.save()
    page = admin_client_.get("/admin/cache/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "api:product-detail" in html
    assert "catalog.product" in html  # invalidations and recent list
    assert 'id="breaker">closed' in html
    assert "Cache" in admin_client_.get("/admin/").content.decode()
    api_client.get(url)
    assert api_client.get(url)["X-Cache"] == "HIT"
    response = admin_client_.post("/admin/cache/", {"model": "catalog.Product"})
    assert response.status_code == 302
    assert api_client.get(url)["X-Cache"] == "MISS"


def test_cache_page_is_for_staff_only(client, user):
    assert client.get("/admin/cache/").status_code == 302  # to the login page
    client.force_login(user)
    assert client.get("/admin/cache/").status_code == 302


@pytest.mark.parametrize(
    ("changelist", "model_path"),
    [
        ("/admin/catalog/product/", "product"),
        ("/admin/catalog/category/", "category"),
        ("/admin/catalog/tag/", "tag"),
        ("/admin/users/profile/", "profile"),
    ],
)
def test_refresh_action_refills_selected_objects(
    admin_client_, api_client, product, user, changelist, model_path
):
    from users.models import Profile

    objects = {
        "product": (product.pk, f"/api/products/{product.pk}/"),
        "category": (product.category_id, "/api/categories/books/"),
        "tag": (product.tags.get().pk, "/api/tags/sale/"),
        "profile": (Profile.objects.get(user=user).pk, "/api/profiles/alice/"),
    }
    pk, api_url = objects[model_path]
    response = admin_client_.post(
        changelist, {"action": "refresh_cache", "_selected_action": [pk]}
    )
    assert response.status_code == 302
    assert api_client.get(api_url)["X-Cache"] == "HIT"


# --- crafted forms: a 400 or the form's errors, never a 500 ----------------------


@pytest.mark.parametrize(
    "changelist",
    ["/admin/catalog/product/", "/admin/catalog/tag/", "/admin/users/profile/",
     "/admin/auth/user/"],
)  # fmt: skip
@pytest.mark.parametrize("selected", ["abc", "\x00", "1.5"])
@pytest.mark.parametrize("action", ["refresh_cache", "delete_selected"])
def test_a_crafted_selection_is_a_400(
    admin_client_, product, changelist, selected, action
):
    if action == "refresh_cache" and changelist == "/admin/auth/user/":
        action = "delete_selected"  # users have only Django's action
    admin_client_.raise_request_exception = False
    response = admin_client_.post(
        changelist, {"action": action, "_selected_action": [selected]}
    )
    assert response.status_code == 400
    assert Product.objects.filter(pk=product.pk).exists()


def test_an_invalid_autocomplete_value_is_a_form_error(admin_client_, product):
    admin_client_.raise_request_exception = False
    response = admin_client_.post(
        f"/admin/catalog/product/{product.pk}/change/",
        {"sku": product.sku, "name": "Dune", "slug": "dune", "price": "1",
         "stock": "1", "category": "abc", "description": ""},
    )  # fmt: skip
    assert response.status_code == 200  # the form again, with its errors
    assert "category" in response.context["adminform"].form.errors
    product.refresh_from_db()
    assert product.price != 1
