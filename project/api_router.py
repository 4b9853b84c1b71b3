"""The REST API's routes, in one place."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from catalog.api.views import (
    CatalogStatsView,
    CategoryViewSet,
    ProductViewSet,
    TagViewSet,
)
from project.views import HealthView
from users.api.views import ProfileViewSet, TokenLoginView

router = DefaultRouter()
router.register("products", ProductViewSet, basename="product")
router.register("categories", CategoryViewSet, basename="category")
router.register("tags", TagViewSet, basename="tag")
router.register("profiles", ProfileViewSet, basename="profile")

urlpatterns = [
    path("auth/token/", TokenLoginView.as_view(), name="api-token"),
    path("catalog/stats/", CatalogStatsView.as_view(), name="catalog-stats"),
    path("health/", HealthView.as_view(), name="health"),
    path("", include(router.urls)),
]
