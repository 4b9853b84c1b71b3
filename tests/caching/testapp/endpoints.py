"""The test app's cached endpoints: a book's detail and the book list."""

from caching import Endpoint, Param, Vary, params, render_json, vary_staff
from tests.caching.testapp.models import Book
from tests.caching.testapp.serializers import BookSerializer

viewer = Vary("viewer", vary_staff, values=("staff", "public"))


def render_book(book: Book, viewer: str) -> bytes | None:
    if viewer == "public" and not book.is_active:
        return None  # a 404 for the public: never stored
    return render_json(BookSerializer, book)


book_detail = Endpoint("book-detail", model=Book, vary=[viewer], render=render_book)
book_list = Endpoint(
    "book-list",
    vary=[viewer],
    params=[
        Param("page", params.integer(default=1)),
        Param("shelf", params.text(max_length=50)),
    ],
)
