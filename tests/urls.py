from django.urls import include, path

from project.urls import handler400, handler404, handler500, urlpatterns

urlpatterns = [*urlpatterns, path("testapp/", include("tests.caching.testapp.urls"))]
__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
