from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from project.views import RedocView, SchemaView, SwaggerView, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("project.api_router")),
    path("api-auth/", include("rest_framework.urls")),
    path("metrics", metrics, name="metrics"),
]

if settings.BENCH_ENDPOINTS:
    from bench.views import PlainProductDetail, constant

    urlpatterns.append(path("bench/constant/", constant, name="bench-constant"))
    urlpatterns.append(
        path("bench/plain-drf/products/<int:pk>/", PlainProductDetail.as_view())
    )

handler400 = "project.views.bad_request"
handler404 = "project.views.not_found"
handler500 = "project.exceptions.server_error"
