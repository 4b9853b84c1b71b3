"""An adopter's tests: read-your-writes through the installed package, and the
package's pytest plugin, loaded by its entry point (nothing names it here)."""

import os
from pathlib import Path

import pytest
from notes.models import Note
from rest_framework.test import APIClient

import caching

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_package_is_the_installed_wheel():
    installed = Path(os.environ["ADOPTER_SITE"]).resolve()
    assert Path(caching.__file__).resolve().is_relative_to(installed)


def test_read_your_writes(cache_clean, cache_events):
    client = APIClient()
    note = Note.objects.create(title="first")
    url = f"/notes/{note.pk}/"
    assert client.get(url)["X-Cache"] == "MISS"
    with cache_events.expect(queries=0, hits=1):
        assert client.get(url).json()["title"] == "first"

    note.title = "second"  # a plain save: invalidated on commit
    note.save()
    assert cache_events.invalidated(Note, note.pk)
    assert client.get(url).json()["title"] == "second"

    Note.objects.filter(pk=note.pk).update(title="third")  # no signal at all
    assert client.get(url).json()["title"] == "third"

    client.patch(url, {"title": "fourth"}, format="json")
    response = client.get(url)
    assert response.json()["title"] == "fourth"


def test_write_through_leaves_a_hit(cache_clean):
    client = APIClient()
    note = Note.objects.create_through(title="kept")
    response = client.get(f"/notes/{note.pk}/")
    assert (response["X-Cache"], response.json()["title"]) == ("HIT", "kept")
