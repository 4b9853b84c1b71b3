"""
What goes into an entry, and what may come out of one (docs/contract.md §4.13).

- ``seal``/``unseal``: every entry carries a keyed BLAKE2b tag over its key,
  asof, dependencies and body, with a key derived from ``SECRET_KEY``. An entry
  the app did not write (someone else with access to Redis, a copy under another
  key, an edited asof or dependency list) fails the check and is read as a miss:
  its bytes are never unpickled, never served.
- ``dumps``: model instances are pickled without their secret fields
  (``CACHE_SECRET_FIELDS``: the user's password hash by default) and without
  related objects whose primary key is a secret (an API token cached on its
  user); a copy read back has the fields deferred, so Django loads them from
  the database if anything asks.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from functools import lru_cache
from io import BytesIO
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

from caching import conf

TAG = 16  # bytes of tag in front of every stored body


@lru_cache(maxsize=4)
def _sealing_key(secret: str) -> bytes:
    return hashlib.blake2b(
        secret.encode(), digest_size=32, person=b"caching.seal"
    ).digest()


def _tag(key: str, asof: str, deps: str, body: bytes) -> bytes:
    mac = hashlib.blake2b(key=_sealing_key(settings.SECRET_KEY), digest_size=TAG)
    mac.update(f"{key}\n{asof}\n{deps}\n".encode())
    mac.update(body)
    return mac.digest()


def seal(key: str, asof: int | str, deps: str, body: bytes) -> bytes:
    """Return body with the tag that proves this app stored it under key."""
    return _tag(key, str(asof), deps, body) + body


def unseal(
    key: str, asof: int | str, deps: bytes | str, payload: bytes
) -> bytes | None:
    """Return the body of a sealed payload, or None if the tag does not match."""
    if len(payload) < TAG:
        return None
    wire = deps.decode() if isinstance(deps, bytes) else deps
    body = payload[TAG:]
    if not hmac.compare_digest(payload[:TAG], _tag(key, str(asof), wire, body)):
        return None
    return body


@lru_cache(maxsize=256)
def secret_fields(model: type[models.Model]) -> frozenset[str]:
    """Return the attribute names of model that never reach Redis."""
    configured = conf.secret_fields()
    if configured is None:
        configured = {get_user_model()._meta.label_lower: ("password",)}
    names = configured.get(model._meta.label_lower, ())
    fields: list[Any] = [model._meta.get_field(name) for name in names]
    return frozenset(field.attname for field in fields)


def _secret_keyed(value: Any) -> bool:
    return isinstance(value, models.Model) and (
        value._meta.label_lower in conf.secret_pk_models()
    )


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, models.Model):
            return NotImplemented
        secret = set(secret_fields(type(obj)))
        if _secret_keyed(obj):  # a token: never its key
            secret.add(obj._meta.pk.attname)
        cached = obj._state.fields_cache
        if not secret and not any(_secret_keyed(v) for v in cached.values()):
            return NotImplemented
        function, args, state = obj.__reduce__()  # type: ignore[misc]
        state = {k: v for k, v in state.items() if k not in secret}
        # Django's __getstate__ copied the related-object cache: drop, e.g., the
        # user.auth_token a select_related() left there.
        fields_cache = state["_state"].fields_cache
        for name in [n for n, v in fields_cache.items() if _secret_keyed(v)]:
            del fields_cache[name]
        return function, args, state


def dumps(value: Any) -> bytes:
    """Pickle value, model instances without their secret fields."""
    buffer = BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in {"CACHING", "AUTH_USER_MODEL"}:
        secret_fields.cache_clear()
