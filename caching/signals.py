"""Signals the caching layer sends."""

from django.dispatch import Signal

# Sent after stamps reached Redis; ``deps`` is the list of (label, field) bumped.
cache_invalidated = Signal()
