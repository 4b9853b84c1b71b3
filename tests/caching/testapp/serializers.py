from rest_framework import serializers

from tests.caching.testapp.models import Book


class BookSerializer(serializers.ModelSerializer):
    shelf = serializers.CharField(source="shelf.slug", read_only=True)
    labels = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")

    class Meta:
        model = Book
        fields = ["id", "sku", "name", "price", "stock", "is_active", "shelf", "labels"]
