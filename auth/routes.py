"""Sign in, sign out and switch account: plain HTML forms with CSRF tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    session,
)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from auth.accounts import ACCOUNT_KEY, SignedInUser, current_account, load_signed_in_user
from auth.passwords import hash_password, needs_rehash, verify_password
from data.db import session_scope
from data.models import User

bp = Blueprint("auth", __name__, template_folder="templates")
limiter = Limiter(get_remote_address)

LOGIN_FAILED = "That email and password do not match an account. Check both and try again."


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


def home_for(user: SignedInUser) -> str:
    account = current_account()
    return "/admin" if account is not None and account.is_admin else "/"


def _email_key() -> str:
    return "login:" + request.form.get("email", "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    "5 per minute",
    key_func=_email_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 401,
    error_message="Too many failed sign-ins for this email. Wait a minute and try again.",
)
def login() -> BaseResponse | tuple[str, int] | str:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url or home_for(current_user))
        return render_template("login.html", next_url=next_url, email="", error=None)

    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    with session_scope() as s:
        user = s.scalars(select(User).where(func.lower(User.email) == email)).one_or_none()
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None:
            page = render_template("login.html", next_url=next_url, email=email, error=LOGIN_FAILED)
            return page, 401
        if user.password_hash and needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        signed_in = load_signed_in_user(s, user.id)
    assert signed_in is not None
    if signed_in.default_account is None:
        page = render_template(
            "login.html",
            next_url=next_url,
            email=email,
            error="This person has no account yet. Ask your operator to create one.",
        )
        return page, 401
    session.clear()  # a fresh session on sign-in: nothing carried over from before
    login_user(signed_in)
    session[ACCOUNT_KEY] = signed_in.default_account.id
    return redirect(next_url or home_for(signed_in))


def _bump_session_version(user_id: int) -> int:
    with session_scope() as s:
        user = s.get(User, user_id)
        if user is None:
            abort(401)
        user.session_version += 1
        return user.session_version


@bp.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    if current_user.is_authenticated:
        _bump_session_version(current_user.user_id)
    logout_user()
    session.clear()
    return redirect("/login")


@bp.route("/account/switch", methods=["POST"])
def switch_account() -> BaseResponse:
    account_id = request.form.get("account_id", "")
    account = current_user.accounts.get(account_id)
    if account is None:
        # Not one of this person's accounts: refuse, and do not say whose it is.
        abort(403)
    user: SignedInUser = current_user._get_current_object()  # type: ignore[attr-defined]
    user.session_version = _bump_session_version(user.user_id)
    login_user(user)
    session[ACCOUNT_KEY] = account.id
    return redirect("/admin" if account.is_admin else "/")


@bp.route("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")
