"""
Signals the caching layer sends: what tests, metrics or logs may listen to.

Each is sent only when something listens (a check of the receiver list costs
nothing on the hit path otherwise).
"""

from django.dispatch import Signal

# A read of an entry: key, group (the model or endpoint it is counted under),
# hit (bool).
cache_read = Signal()
# A fill after a miss, or a write-through fill: key, stored (bool: False when a
# write overlapped the read, a "fill conflict"), written (bool: write-through).
cache_filled = Signal()
# Stamps reached Redis: ``wire`` lists them as "label|field;...".
cache_invalidated = Signal()
