"""What a person changes about themselves at /account: their display name, their password (the
current one first) and whether they get e-mail notifications.

The person is the signed-in one (``user_id`` from the server session, never from the browser).
A password change bumps ``session_version``: every session signed in with the old password ends;
the web layer signs the current one in again with the new version, so only the others end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from data.accounts.passwords import set_password, verify_password
from data.accounts.validation import FieldChecks, NotFound, validate_name, validate_password
from data.audit.entries import Action, Actor, record
from data.core.models import User

WRONG_CURRENT = "That is not your current password."
SAME_PASSWORD = "The new password is the one you have now: choose another."  # noqa: S105


@dataclass(frozen=True)
class Profile:
    user_id: int
    email: str
    display_name: str
    email_notifications: bool
    has_password: bool


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("You no longer exist here: sign in again.")
    return user


def profile(session: Session, user_id: int) -> Profile:
    user = _user(session, user_id)
    return Profile(
        user.id,
        user.email,
        user.display_name,
        bool(user.email_notifications),
        user.password_hash is not None,
    )


def set_display_name(
    session: Session, user_id: int, name: object, *, actor: Actor, now: datetime
) -> str:
    """The person's new display name (trimmed, 1 to 200 characters); ``InvalidInput`` keyed
    ``display_name`` otherwise, nothing written."""
    checks = FieldChecks()
    clean = checks.run("display_name", validate_name, name, "your name")
    checks.raise_if_any()
    assert clean is not None
    user = _user(session, user_id)
    before = {"display_name": user.display_name}
    user.display_name = clean
    session.flush()
    record(session, actor, now, Action.person_updated, "person", user.id,
           before=before, after={"display_name": clean})  # fmt: skip
    return clean


def set_email_notifications(
    session: Session, user_id: int, on: bool, *, actor: Actor, now: datetime
) -> bool:
    """Turn the person's e-mail notifications on or off; True if that changed anything."""
    user = _user(session, user_id)
    before = bool(user.email_notifications)
    if before == on:
        return False
    user.email_notifications = on
    session.flush()
    record(session, actor, now, Action.person_updated, "person", user.id,
           before={"email_notifications": before}, after={"email_notifications": on})  # fmt: skip
    return True


def change_password(
    session: Session,
    user_id: int,
    current: object,
    new: object,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Check ``current`` with argon2, then store ``new`` (the sign-up rule) and bump the session
    version. ``InvalidInput`` keyed ``current`` / ``new`` otherwise, nothing written."""
    user = _user(session, user_id)
    given = current if isinstance(current, str) else ""
    checks = FieldChecks()
    if not given or not verify_password(user.password_hash, given):
        checks.fail("current", WRONG_CURRENT)
    clean = checks.run("new", validate_password, new)
    if clean is not None and clean == given and "current" not in checks.errors:
        checks.fail("new", SAME_PASSWORD)
    checks.raise_if_any()
    assert clean is not None
    set_password(user, clean)  # also bumps session_version: the other sessions end
    session.flush()
    record(session, actor, now, Action.person_password_set, "person", user.id,
           detail="changed by the person (current password checked)")  # fmt: skip
