"""Product list filters; every bad value is a 400 naming the parameter."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Q

from caching import params
from catalog.models import Product


class OrderingFilter(filters.OrderingFilter):
    """django-filter's ordering (which rejects unknown fields), ties broken by id
    in the direction of the last field. It orders by the fields that order
    anything (as the cache's canonical query does): ``price,-price`` is
    ``price``, whichever the view is given."""

    def filter(self, qs, value):
        value = params.effective_ordering([v for v in value or () if v], tiebreak="id")
        qs = super().filter(qs, value)
        if value:
            last = self.get_ordering_value(value[-1])
            qs = qs.order_by(
                *qs.query.order_by, "-id" if last.startswith("-") else "id"
            )
        return qs


class ProductFilter(filters.FilterSet):
    category = filters.CharFilter(field_name="category__slug")
    tag = filters.CharFilter(field_name="tags__slug")
    min_price = filters.NumberFilter(field_name="price", lookup_expr="gte")
    max_price = filters.NumberFilter(field_name="price", lookup_expr="lte")
    in_stock = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_in_stock"
    )
    search = filters.CharFilter(method="filter_search")
    ordering = OrderingFilter(fields=("id", "price", "name", "created_at"))

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_in_stock(self, queryset, name, value):
        return (
            queryset.filter(stock__gt=0)
            if value == "true"
            else queryset.filter(stock=0)
        )

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(sku__icontains=value)
            | Q(description__icontains=value)
        )
