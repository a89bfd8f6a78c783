"""Role checks for callbacks and routes: the server decides, whatever the browser sent."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort

from auth.accounts import AccountInfo, current_account

P = ParamSpec("P")
R = TypeVar("R")


def require_admin() -> AccountInfo:
    """The active account if it is an admin one; 403 otherwise (401 when signed out)."""
    account = current_account()
    if account is None:
        abort(401)
    if not account.is_admin:
        abort(403)
    return account


def admin_only(func: Callable[P, R]) -> Callable[P, R]:
    """For admin callbacks and routes: check the role before anything else runs."""

    @wraps(func)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        require_admin()
        return func(*args, **kwargs)

    return checked
