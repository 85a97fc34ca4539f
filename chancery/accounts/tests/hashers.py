"""Argon2 with the cheapest parameters, for tests that sign in many times."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2Hasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8
    parallelism = 1


class CountingArgon2Hasher(FastArgon2Hasher):
    """Counts the passwords it verifies."""

    verified: ClassVar[list[str]] = []

    def verify(self, password: str, encoded: str) -> bool:
        CountingArgon2Hasher.verified.append(password)
        return super().verify(password, encoded)
