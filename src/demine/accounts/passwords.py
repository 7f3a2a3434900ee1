"""Password hashing with argon2id (RFC 9106), through argon2-cffi.

The hash string carries its own parameters and salt, so parameters can be raised later:
:func:`needs_rehash` tells the login code to store a fresh hash.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults are RFC 9106's low-memory profile (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (False for a malformed hash)."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(stored_hash)


def password_problems(password: str) -> list[str]:
    """What is wrong with a new password (long passphrases beat composition rules: NIST 800-63B)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > 1024:
        problems.append("must be at most 1024 characters long")
    return problems


# Verifying against this when the user does not exist makes a failed login take as long
# whether or not the username is known.
DUMMY_HASH = hash_password("not a real password, only for timing")
