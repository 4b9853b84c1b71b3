from rest_framework import viewsets

from caching import CachedReadsMixin, cache
from tests.caching.testapp import endpoints
from tests.caching.testapp.models import Book
from tests.caching.testapp.serializers import BookSerializer


class BookViewSet(CachedReadsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = BookSerializer

    def get_queryset(self):
        books = Book.objects.select_related("shelf").prefetch_related("labels")
        if not self.request.user.is_staff:
            books = books.active()
        shelf = self.request.query_params.get("shelf")
        return books.filter(shelf__slug=shelf) if shelf and not self.detail else books

    @cache(endpoints.book_list)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @cache(endpoints.book_detail)
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)
