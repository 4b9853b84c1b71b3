"""
The catalog's cached endpoints: what each answer varies on, reads and renders.

Every key the cache makes for these views, on a miss, a hit, a write-through
refill, a deletion on change, cache_warm or cache_verify, comes from here.
"""

from __future__ import annotations

from decimal import Decimal

from caching import Endpoint, Param, Vary, params, render_json, vary_staff
from caching import deps as dep
from catalog import rates
from catalog.api.serializers import CategorySerializer, ProductSerializer, TagSerializer
from catalog.models import Category, Product, Tag

CENT = Decimal("0.01")
MAX_PRICE = Decimal("99999999.99")  # Product.price: 10 digits, 2 places
PAGE_PARAMS = (
    Param("page", params.integer(default=1, words=("last",))),
    Param("page_size", params.integer(cap=100, default=20)),
)
LIST_PARAMS = (
    *PAGE_PARAMS,
    Param("category", params.text(max_length=100)),
    Param("tag", params.text(max_length=50)),
    Param("min_price", params.decimal(
        places=2, low=Decimal(0), high=MAX_PRICE + CENT, round_up=True)),
    Param("max_price", params.decimal(
        places=2, low=-CENT, high=MAX_PRICE, round_up=False)),
    Param("in_stock", params.choice("true", "false")),
    Param("search", params.text()),
    Param("ordering", params.ordering(
        "id", "price", "name", "created_at", default="id", tiebreak="id")),
)  # fmt: skip

# Staff see inactive products; everyone else the same answer.
viewer = Vary("viewer", vary_staff, values=("staff", "public"))


def render_product(product: Product, viewer: str) -> bytes | None:
    """A product's detail as a GET renders it; none for the public when inactive."""
    if viewer == "public" and not product.is_active:
        return None  # a 404: never stored
    return render_json(ProductSerializer, product)


product_detail = Endpoint(
    "product-detail", model=Product, vary=[viewer], render=render_product
)
product_list = Endpoint("product-list", vary=[viewer], params=LIST_PARAMS, warm=True)
product_price = Endpoint(
    "product-price",
    vary=[viewer],
    params=[Param("currency", params.code(length=3))],
    deps=lambda view, response: [
        *dep.for_instance(view.fetched_object),
        rates.RATES_DEP,
    ],
)
catalog_stats = Endpoint(
    "catalog-stats",
    deps=lambda view, response: dep.for_models(Product, Category),
    warm=True,
)
category_list = Endpoint("category-list", params=PAGE_PARAMS, warm=True)
category_detail = Endpoint(
    "category-detail",
    model=Category,
    lookup=("slug", "slug"),
    render=lambda category: render_json(CategorySerializer, category),
)
tag_list = Endpoint("tag-list", params=PAGE_PARAMS, warm=True)
tag_detail = Endpoint(
    "tag-detail",
    model=Tag,
    lookup=("slug", "slug"),
    render=lambda tag: render_json(TagSerializer, tag),
)
