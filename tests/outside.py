"""Writes made outside Django: what psql or another service does to the
database, which no Django cursor wrapper or signal sees."""

from __future__ import annotations

import contextlib

from django.db import connection


def outside_django(sql: str, params: list) -> None:
    """Run SQL on the database connection's DB-API cursor, as psql or another
    service would: no Django cursor wrapper sees it."""
    connection.ensure_connection()
    sqlite = connection.vendor == "sqlite"
    with contextlib.closing(connection.connection.cursor()) as cursor:
        cursor.execute(sql.replace("%s", "?") if sqlite else sql, params)
    if sqlite:  # psycopg runs Django's connection in autocommit
        connection.connection.commit()
