"""Password hashes: argon2id only; a hash made with older parameters is renewed at sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from data.core.models import User

_hasher = PasswordHasher()

# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("polaris-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def set_password(user: User, password: str) -> None:
    """Store a new password and end every session that was signed in with the old one."""
    user.password_hash = hash_password(password)
    user.session_version += 1
