from django.db import models

from caching import WriteThroughManager


class Note(models.Model):
    title = models.CharField(max_length=100)
    body = models.TextField(blank=True)

    objects = WriteThroughManager()  # the guide, step 2

    def __str__(self) -> str:
        return self.title
