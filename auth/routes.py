"""Sign in, sign out and switch account: plain HTML forms with CSRF tokens.

The blueprint is built per app (``auth_blueprint(limiter)``) so each app's rate limits live in
that app's own storage: Redis shared by every worker in production, memory in development.
Password attempts are counted there before they are checked (``auth.attempts``).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask_limiter import Limiter
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from auth.accounts import (
    ACCOUNT_KEY,
    AccountInfo,
    SignedInUser,
    current_account,
    load_signed_in_user,
)
from auth.attempts import AttemptCounter, Refused
from data.accounts.passwords import hash_password, needs_rehash, verify_password
from data.core.db import database_problem
from data.core.models import User
from web.db import session_scope

LOGIN_FAILED = "That email and password do not match an account. Check both and try again."
RATE_LIMITED = "Too many sign-in attempts for this email. Nothing was checked; try again in {wait}."
REAUTH_LIMITED = "Too many tries. Nothing was checked; try again in {wait}."
SIGNED_IN_AT = "signed_in_at"
# Becoming an admin asks for the password again when the last sign-in is older than this.
REAUTH_AFTER_SECONDS = 15 * 60


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_for_account(account: AccountInfo | None) -> str:
    return "/admin" if account is not None and account.is_admin else "/"


def _limited(page: str, refused: Refused) -> tuple[str, int, dict[str, str]]:
    return page, 429, {"Retry-After": str(refused.retry_after)}


def bump_session_version(user_id: int) -> int:
    """Make every cookie issued so far for this person stop working."""
    with session_scope() as s:
        user = s.get(User, user_id)
        if user is None:
            abort(401)
        user.session_version += 1
        return user.session_version


def _check_password(email: str, password: str) -> SignedInUser | None:
    with session_scope() as s:
        user = s.scalars(select(User).where(func.lower(User.email) == email)).one_or_none()
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None:
            return None
        if user.password_hash and needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return load_signed_in_user(s, user.id)


def _activate(user: SignedInUser, account: AccountInfo) -> BaseResponse:
    """Switch to ``account`` with a fresh session version: older cookies are refused."""
    user.session_version = bump_session_version(user.user_id)
    login_user(user)
    session[ACCOUNT_KEY] = account.id
    return redirect(home_for_account(account))


def auth_blueprint(limiter: Limiter) -> Blueprint:
    bp = Blueprint("auth", __name__, template_folder="templates")

    def attempts() -> AttemptCounter:
        return AttemptCounter(limiter.storage, current_app.config.get("RATELIMIT_KEY_PREFIX", ""))

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> BaseResponse | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
        next_url = safe_next(request.values.get("next"))
        if request.method == "GET":
            if current_user.is_authenticated:
                return redirect(next_url or home_for_account(current_account()))
            return render_template("login.html", next_url=next_url, email="", error=None)

        email = request.form.get("email", "").strip().lower()
        # Counted before the password is checked: parallel guesses cannot all get through.
        attempt = attempts().sign_in(request.remote_addr or "?", email)
        if isinstance(attempt, Refused):
            limited = RATE_LIMITED.format(wait=attempt.wait_text)
            page = render_template("login.html", next_url=next_url, email=email, error=limited)
            return _limited(page, attempt)
        user = _check_password(email, request.form.get("password", ""))
        if user is not None:
            attempts().refund(attempt)  # the right password is no guess
        error = LOGIN_FAILED if user is None else None
        if user is not None and user.default_account is None:
            error = "This person has no account yet. Ask your operator to create one."
        if error or user is None or user.default_account is None:
            page = render_template("login.html", next_url=next_url, email=email, error=error)
            return page, 401
        session.clear()  # a fresh session on sign-in: nothing carried over from before
        login_user(user)
        session[ACCOUNT_KEY] = user.default_account.id
        session[SIGNED_IN_AT] = time.time()
        return redirect(next_url or home_for_account(user.default_account))

    @bp.route("/logout", methods=["POST"])
    def logout() -> BaseResponse:
        if current_user.is_authenticated:
            bump_session_version(current_user.user_id)
        logout_user()
        session.clear()
        return redirect("/login")

    @bp.route("/account/switch", methods=["POST"])
    def switch_account() -> BaseResponse:
        account = current_user.accounts.get(request.form.get("account_id", ""))
        if account is None:
            abort(403)  # not one of this person's accounts; say nothing about whose it is
        recent = time.time() - session.get(SIGNED_IN_AT, 0) < REAUTH_AFTER_SECONDS
        if account.is_admin and not recent:
            return redirect(f"/account/confirm?account_id={account.id}")
        return _activate(current_user._get_current_object(), account)

    @bp.route("/account/confirm", methods=["GET", "POST"])
    def confirm_password() -> BaseResponse | tuple[str, int] | tuple[str, int, dict[str, str]]:
        """Becoming an admin after a while: prove it is still you."""
        account = current_user.accounts.get(request.values.get("account_id", ""))
        if account is None:
            abort(403)
        error = None
        if request.method == "POST":
            attempt = attempts().reauth(str(current_user.user_id))  # counted before checking
            if isinstance(attempt, Refused):
                error = REAUTH_LIMITED.format(wait=attempt.wait_text)
                return _limited(
                    render_template("confirm.html", account=account, error=error), attempt
                )
            user = _check_password(current_user.email, request.form.get("password", ""))
            if user is not None and user.user_id == current_user.user_id:
                attempts().refund(attempt)
                session[SIGNED_IN_AT] = time.time()
                return _activate(user, account)
            error = "That password is not right. Try again."
        page = render_template("confirm.html", account=account, error=error)
        return page, 401 if error else 200

    @bp.route("/healthz")
    def healthz() -> tuple[Response, int]:
        """Readiness for a load balancer: 200 when this process can use its database, else 503
        with a plain reason (JSON both ways); no sign-in, no traceback."""
        start_up = current_app.extensions.get("polaris_start_up")
        if start_up is not None and not start_up.ready:
            start_up.retry()  # at most every DB_RETRY_S, one thread at a time
            if not start_up.ready:
                return jsonify(status="unavailable", reason="database not ready yet"), 503
        problem = database_problem(current_app.extensions["polaris_db"])
        if problem is not None:
            return jsonify(status="unavailable", reason=problem), 503
        return jsonify(status="ok"), 200

    return bp
