"""Shared by the admin pages: a layout decorator that shows customers why they cannot be here.

The request guard already answers 403 for a customer on /admin*; the Dash router still renders
the page's layout in the browser, so each admin layout says so instead of showing admin tools.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from dash.development.base_component import Component
from flask import has_request_context

from auth.accounts import current_account
from components.notices import admin_only_notice


def admin_layout(build: Callable[..., Component]) -> Callable[..., Component]:
    @wraps(build)
    def layout(**kwargs: Any) -> Component:
        account = current_account() if has_request_context() else None
        if account is not None and not account.is_admin:
            return admin_only_notice()
        return build(**kwargs)

    return layout
