"""The settings of the test suite: the project's, plus the caching layer's own
test app (tests/caching/testapp), so the layer is tested on models of its own."""

from project.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.caching.testapp"]  # noqa: F405
ROOT_URLCONF = "tests.urls"
