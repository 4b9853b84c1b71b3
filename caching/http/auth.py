"""
API tokens read through the cache, for the hit path and for DRF alike.

One entry per token (``{p}:t:{key}``) holds a short header the
hit path reads (user id, staff flag, username) and the user itself, pickled
with its password hash left out (deferred: never in Redis, and a ``save()`` of
that instance would not write it). Like every entry it carries stamps: the
token's row and its user's row, so deleting the token or deactivating, demoting
or renaming the user takes effect at the next request. Unknown tokens and
inactive users are not cached: DRF's own query answers them, with its errors.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from caching import store
from caching.orm import deps as dep
from caching.store import Fill, codec, keys


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller, as far as cached responses care: enough for every vary_on."""

    pk: int | None
    username: str = ""
    is_staff: bool = False

    @property
    def is_authenticated(self) -> bool:
        return self.pk is not None

    def get_username(self) -> str:
        return self.username


ANONYMOUS = Identity(pk=None)


def _identity(user: Any) -> Identity:
    return Identity(user.pk, user.get_username(), user.is_staff)


def _fetch(key: str, decode) -> Any:
    """Return the token's active user (as decode makes it on a hit), or None."""

    def compute() -> Any:
        token = (
            Token.objects.select_related("user")
            .defer("user__password")
            .filter(key=key)
            .first()
        )
        return token.user if token is not None and token.user.is_active else None

    def encode(user: Any) -> Fill | None:
        if user is None:
            return None  # unknown tokens go the normal way (401)
        user_model = get_user_model()
        header = f"{user.pk}\n{int(user.is_staff)}\n{user.get_username()}\n"
        return Fill(
            header.encode() + codec.dumps(user),
            [
                dep.row(Token, key),
                dep.all_rows(Token),
                dep.row(user_model, user.pk),
                dep.all_rows(user_model),
            ],
        )

    return store.fetch(
        keys.token_key(key),
        compute,
        encode=encode,
        decode=decode,
        group="auth:token",
    ).value


def _header(raw: bytes) -> Identity:
    pk, staff, username, _ = raw.split(b"\n", 3)
    return Identity(int(pk), username.decode(), staff == b"1")


def _user(raw: bytes) -> Any:
    return pickle.loads(raw.split(b"\n", 3)[3])


def token_identity(key: str, *, cache_only: bool = False) -> Identity | None:
    """Return who holds an API token, for the hit path (no unpickling).

    ``cache_only``: None when the token's entry is not cached, without a query.
    """
    if cache_only:
        lookup = store.read(keys.token_key(key), lease=False, group="auth:token")
        return _header(lookup.payload) if lookup.hit else None
    found = _fetch(key, _header)
    return found if found is None or isinstance(found, Identity) else _identity(found)


def token_user(key: str) -> Any:
    """Return the active user of an API token, or None."""
    return _fetch(key, _user)


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication without its query per request."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if not (key.isascii() and key.isalnum()) or len(key) > 64:
            raise AuthenticationFailed("Invalid token.")  # and no query with it
        user = token_user(key)
        if user is None:  # unknown or inactive: DRF's query and its errors
            return super().authenticate_credentials(key)
        return user, Token(key=key, user=user)
