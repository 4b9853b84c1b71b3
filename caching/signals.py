"""Signals the caching layer sends."""

from django.dispatch import Signal

# Sent after stamps reached Redis; ``wire`` lists them as "label|field;...".
cache_invalidated = Signal()
