"""
CONTRACT 4.2 (read-your-writes, every write path), 4.3 (no stale fill: the
forced interleavings and the multi-process checker) and the cache commands of
section 5 again, with the cache on Redis Sentinel and on a Redis Cluster: the
same tests, collected here with the topology switched under them.
"""

from __future__ import annotations

import pytest

from tests.caching.conftest import *  # noqa: F403  (book, shelf, label)
from tests.caching.test_querysets import *  # noqa: F403
from tests.caching.test_store import *  # noqa: F403
from tests.integration.test_api_cache import *  # noqa: F403
from tests.integration.test_commands import *  # noqa: F403
from tests.integration.test_consistency import *  # noqa: F403

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scale]


@pytest.fixture(autouse=True)
def _every_topology(on_topology):
    """Each test above runs once on Sentinel and once on the Cluster."""
    return on_topology
