"""Argon2id password hashing."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()  # argon2-cffi's default is Argon2id (RFC 9106 low-memory profile)


def use_fast_hashing_for_tests() -> None:
    """Switch to the cheapest Argon2id parameters (tests only: real logins use the default)."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    _dummy_hash.cache_clear()


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("timing-equaliser-not-a-password")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; an unknown account costs the same time as a wrong password."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash uses weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
