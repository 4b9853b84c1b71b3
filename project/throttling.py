"""
Rate limits, counted in Redis: API rates per anonymous caller and per user, and
failed logins (the token endpoint and the admin login).

DRF's own throttles keep a list of timestamps per caller in the Django cache
(a GET and a SET of a pickled list per request) and raise while Redis is away.
These keep one counter per caller and window, the window starting at the
caller's first counted request (one script: INCR, and PEXPIRE on the first), go
through the cache layer's circuit breaker, and let requests through
while Redis is unavailable: a limit must not turn an outage into errors.

Cache hits are answered before DRF runs (caching.http.fastpath), so they are not
counted: a hit costs less than the check would, and a limit protects the
database, which a hit does not touch. Misses, writes and logins are counted.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from caching.store import client, keys

# KEYS: the counter. ARGV: window in ms, "1" to count this request. The window
# starts at a caller's first counted request (not at the clock's minute, which
# would let a burst straddling it through twice). Returns {count, ms left}.
COUNT = """
local count
if ARGV[2] == '1' then
  count = redis.call('INCR', KEYS[1])
  if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
else
  count = tonumber(redis.call('GET', KEYS[1]) or 0)
end
return {count, redis.call('PTTL', KEYS[1])}
"""


def _count(key: str, duration: int, add: bool) -> tuple[int, float]:
    """Return (requests counted in the caller's window, seconds left in it)."""

    def op(redis: Any) -> tuple[int, float]:
        count, left_ms = redis.eval(COUNT, 1, key, duration * 1000, "1" if add else "0")
        return int(count), max(0, int(left_ms)) / 1000

    try:
        return client.run(op)
    except client.CacheUnavailable:
        return 0, 0.0  # open while Redis is away


class RedisRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle on a fixed-window counter in Redis."""

    wait_seconds = 0.0

    def get_rate(self) -> str | None:
        # Read when used (DRF binds THROTTLE_RATES at import): settings reload.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        key = keys.throttle_key(self.scope, ident)
        count, self.wait_seconds = _count(key, self.duration, add=True)
        return count <= self.num_requests

    def wait(self) -> float:
        return self.wait_seconds


class AnonRateThrottle(RedisRateThrottle):
    """API_RATE_ANON: requests per anonymous caller (by address)."""

    scope = "anon"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)


class UserRateThrottle(RedisRateThrottle):
    """API_RATE_USER: requests per signed-in user."""

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return f"u{request.user.pk}"
        return None


class LoginFailures(RedisRateThrottle):
    """LOGIN_RATE: failed logins per address and username; the next attempt,
    right password or not, is refused until the window ends.

    As a DRF throttle it only checks; the login view calls ``failed()``.
    """

    scope = "login"

    def get_cache_key(self, request, view=None) -> str | None:
        data = getattr(request, "data", None)
        if data is None:  # a Django request: the admin's login form
            data = request.POST
        username = data.get("username", "") if hasattr(data, "get") else ""
        return f"{self.get_ident(request)}|{str(username)[:150].lower()}"

    def _key(self, request) -> str | None:
        if self.rate is None:
            return None
        return keys.throttle_key(self.scope, self.get_cache_key(request) or "")

    def allow_request(self, request, view=None) -> bool:
        key = self._key(request)
        if key is None:
            return True
        count, self.wait_seconds = _count(key, self.duration, add=False)
        return count < self.num_requests

    def failed(self, request) -> None:
        key = self._key(request)
        if key is not None:
            _count(key, self.duration, add=True)
