"""Database helpers shared by the apps."""

from __future__ import annotations

from django.db import connection


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"
