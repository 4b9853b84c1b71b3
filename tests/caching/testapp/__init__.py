"""
A small app for testing the caching layer on its own: shelves, labels and the
books on them, cached exactly as an adopting project would (docs/adopting.md),
with no code from the shop's catalog or users.
"""
