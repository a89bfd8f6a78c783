"""Password attempts counted before they are checked, in the app's rate-limit storage.

Flask-Limiter's ``deduct_when`` counts a failure after the password check, so N parallel
guesses all passed the "under the limit?" test and all reached argon2. Here every attempt is
one atomic ``hit()`` of the ``limits`` library (a locked counter in memory, one Lua script in
Redis, shared by every worker) before its password is checked: of N parallel attempts at most
the limit are checked, the rest answer 429 unchecked. An attempt whose password was right is
refunded (it is no guess), so the owner signing in does not use up the budget.

Sign-in counts per (address, email), so failures from an attacker's address do not lock the
owner out elsewhere, and per email across all addresses, which bounds a distributed guesser.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

# Per (address, email): an attacker's failures from their address only block that address.
SIGN_IN_PER_ADDRESS = parse("5 per minute")
# Per email, from every address together: the most guesses a distributed attacker gets.
SIGN_IN_PER_EMAIL = parse("20 per hour")
# Confirming the password before becoming admin again (/account/confirm), per person.
REAUTH_PER_PERSON = parse("5 per minute")
# Emails are keys here; nothing longer than an email can be (RFC 5321) goes into the store.
MAX_KEY_PART = 254


@dataclass(frozen=True)
class Attempt:
    """Counters this attempt was counted in, to refund when its password was right."""

    keys: tuple[tuple[RateLimitItem, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Refused:
    """Too many attempts: nothing was checked. ``retry_after`` is whole seconds (at least 1)."""

    retry_after: int

    @property
    def wait_text(self) -> str:
        if self.retry_after < 120:
            return f"{self.retry_after} second{'s' if self.retry_after != 1 else ''}"
        return f"{math.ceil(self.retry_after / 60)} minutes"


class AttemptCounter:
    """Fixed windows over ``storage`` (Flask-Limiter's: memory, or Redis for several workers)."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self._storage = storage
        self._window = FixedWindowRateLimiter(storage)
        self._prefix = prefix

    def _ids(self, scope: str, *parts: str) -> tuple[str, ...]:
        return (self._prefix, scope, *(p[:MAX_KEY_PART] for p in parts))

    def begin(self, *limits: tuple[RateLimitItem, tuple[str, ...]]) -> Attempt | Refused:
        """Count one attempt in each of ``limits`` (item, key parts), in order; the first one
        that is full refuses it, and the counts already taken for it are given back."""
        taken: list[tuple[RateLimitItem, tuple[str, ...]]] = []
        for item, parts in limits:
            ids = self._ids(*parts)
            if not self._window.hit(item, *ids):  # atomic increment, then compare
                self._give_back(item, ids)  # this one went over: it was never checked
                for done in taken:
                    self._give_back(*done)
                return Refused(self._retry_after(item, ids))
            taken.append((item, ids))
        return Attempt(tuple(taken))

    def refund(self, attempt: Attempt) -> None:
        """The password was right: the attempt does not count toward any lockout."""
        for item, ids in attempt.keys:
            self._give_back(item, ids)

    def _give_back(self, item: RateLimitItem, ids: tuple[str, ...]) -> None:
        key = item.key_for(*ids)
        if self._storage.get(key) > 0:  # an expired window starts again at 0, never below
            self._storage.incr(key, item.get_expiry(), amount=-1)

    def _retry_after(self, item: RateLimitItem, ids: tuple[str, ...]) -> int:
        reset = self._window.get_window_stats(item, *ids).reset_time
        return max(1, math.ceil(reset - time.time()))

    def sign_in(self, address: str, email: str) -> Attempt | Refused:
        return self.begin(
            (SIGN_IN_PER_ADDRESS, ("sign-in", address, email)),
            (SIGN_IN_PER_EMAIL, ("sign-in-email", email)),
        )

    def reauth(self, user_id: str) -> Attempt | Refused:
        return self.begin((REAUTH_PER_PERSON, ("reauth", user_id)))
