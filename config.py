"""Settings from the environment. Nothing secret has a default here."""

from __future__ import annotations

import logging
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from data.chargers.status import OFFLINE_AFTER_SECONDS
from data.exchange.cdrs import DEFAULT_PARTY_ID, ocpi_country_code, ocpi_party_id

ROOT = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("POLARIS_INSTANCE", ROOT / "instance"))

# Values that have appeared as example keys; refused in production.
KNOWN_WEAK_KEYS = {"dev", "secret", "changeme", "change-me", "development", "test", "default"}
# Words that make a key guessable wherever they appear in it (6+ letters, so a random key of
# 32+ characters contains one by chance with a probability below one in ten million).
WEAK_KEY_WORDS = (
    "secret", "password", "passwd", "changeme", "change-me", "polaris", "default", "example",
    "insecure", "qwerty", "letmein",
)  # fmt: skip
MIN_KEY_LENGTH = 32
# The estimate of key_strength_bits() a production key needs: as hard to guess as 128 random bits.
MIN_KEY_BITS = 128
MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
# A charger silent for longer than this is Offline: the status rule's own default (one hour).
DEFAULT_OFFLINE_AFTER_S = OFFLINE_AFTER_SECONDS
# A worker answers the fleet-wide part of every driver's request (statuses, catalogue, operator
# settings) from a snapshot this old at most, then rebuilds it in the background (data/snapshots).
DEFAULT_SNAPSHOT_S = 2.0
# How often a worker that started without its database tries again (migrations, then serving).
DEFAULT_DB_RETRY_S = 5.0
# Bounds keep a typo from calling the whole fleet Offline (0) or never (years).
OFFLINE_AFTER_BOUNDS_S = (1, 7 * 24 * 3600)


log = logging.getLogger("polaris")


class ConfigError(click.ClickException, RuntimeError):
    """A setting that makes starting unsafe or impossible. A ClickException, so the Flask CLI
    prints the message alone (``Error: ...``) rather than a traceback."""


_TRUE = ("1", "true", "yes", "on")


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in _TRUE


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Environment first, then ``overrides`` (tests pass theirs here)."""
    config: dict[str, Any] = {
        "ENV": os.environ.get("POLARIS_ENV", "development"),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'polaris.db'}",
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        # None: the default for the environment (on in development, never in production).
        "DEMO": os.environ.get("POLARIS_DEMO"),
        "HTTPS": _flag("POLARIS_HTTPS", "0"),
        # A charger without an OCPP password may connect in production only when this says so.
        "OCPP_ALLOW_NO_PASSWORD": _flag("POLARIS_OCPP_ALLOW_NO_PASSWORD", "0"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "polaris"),
        "STATEMENT_TIMEOUT_MS": int(os.environ.get("POLARIS_STATEMENT_TIMEOUT_MS", "15000")),
        "POOL_TIMEOUT_S": float(os.environ.get("POLARIS_POOL_TIMEOUT_S", "5")),
        "CONNECT_TIMEOUT_S": int(os.environ.get("POLARIS_CONNECT_TIMEOUT_S", "5")),
        "POOL_SIZE": int(os.environ.get("POLARIS_POOL_SIZE", "5")),
        "MAX_OVERFLOW": int(os.environ.get("POLARIS_MAX_OVERFLOW", "5")),
        "REFRESH_INTERVAL_MS": int(os.environ.get("POLARIS_REFRESH_INTERVAL_MS", "15000")),
        "OFFLINE_AFTER_S": os.environ.get("POLARIS_OFFLINE_AFTER_S", str(DEFAULT_OFFLINE_AFTER_S)),
        "SNAPSHOT_S": os.environ.get("POLARIS_SNAPSHOT_S", str(DEFAULT_SNAPSHOT_S)),
        # Bigger request bodies get 413 before anything reads them: the largest legitimate one
        # is an import upload (16 MB of files, base64 in the callback's JSON: about 22 MB).
        "MAX_CONTENT_LENGTH": 24 * 1024 * 1024,
        "DB_RETRY_S": DEFAULT_DB_RETRY_S,
        # Where browser import uploads wait between the check and the import; several app
        # instances need one folder they all see (deploy/README.md). Empty: INSTANCE/imports.
        "IMPORT_UPLOAD_FOLDER": os.environ.get("POLARIS_IMPORT_UPLOAD_FOLDER", ""),
        # How many proxies (HAProxy: 1) in front of the app add X-Forwarded-For/-Proto. 0: the
        # headers are ignored (anyone could send them); then every person behind a balancer has
        # its address, and sign-in limits per address become per email.
        "PROXY_COUNT": os.environ.get("POLARIS_PROXY_COUNT", "0"),
        # Who owns the OCPI CDRs of /export/cdrs.json (data.exchange.cdrs). No country: the
        # country of the operator's time zone.
        "OCPI_COUNTRY_CODE": os.environ.get("POLARIS_OCPI_COUNTRY_CODE", ""),
        "OCPI_PARTY_ID": os.environ.get("POLARIS_OCPI_PARTY_ID", DEFAULT_PARTY_ID),
        # Alerts (``flask alerts run``): email through SMTP, and/or a signed webhook. A channel
        # is on when its settings are there; none has a default that could leak anything.
        "SMTP_HOST": os.environ.get("POLARIS_SMTP_HOST", ""),
        "SMTP_PORT": os.environ.get("POLARIS_SMTP_PORT", "587"),
        "SMTP_USER": os.environ.get("POLARIS_SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("POLARIS_SMTP_PASSWORD", ""),
        "SMTP_FROM": os.environ.get("POLARIS_SMTP_FROM", ""),
        "SMTP_TLS": os.environ.get("POLARIS_SMTP_TLS", "starttls"),
        "ALERT_EMAIL_TO": os.environ.get("POLARIS_ALERT_EMAIL_TO", ""),
        # Where people reach this app (https://charge.example.com): the links in drivers'
        # e-mails. No default host: without it the e-mails say where to look, with no link.
        "PUBLIC_URL": os.environ.get("POLARIS_PUBLIC_URL", ""),
        "ALERT_WEBHOOK_URL": os.environ.get("POLARIS_ALERT_WEBHOOK_URL", ""),
        "ALERT_WEBHOOK_SECRET": os.environ.get("POLARIS_ALERT_WEBHOOK_SECRET", ""),
        "TESTING": False,
    }
    config.update(overrides or {})
    config["SECRET_KEY"] = _secret_key(config)
    config["DEMO"] = _demo(config["DEMO"], production=config["ENV"] == "production")
    config["OFFLINE_AFTER_S"] = _offline_after_s(config["OFFLINE_AFTER_S"])
    config["SNAPSHOT_S"] = _snapshot_seconds(config["SNAPSHOT_S"])
    config["OCPI_COUNTRY_CODE"], config["OCPI_PARTY_ID"] = _ocpi_party(
        config["OCPI_COUNTRY_CODE"], config["OCPI_PARTY_ID"]
    )
    config["SMTP_PORT"], config["SMTP_TLS"] = _smtp(config["SMTP_PORT"], config["SMTP_TLS"])
    _webhook(config["ALERT_WEBHOOK_URL"], config["ALERT_WEBHOOK_SECRET"])
    config["PUBLIC_URL"] = _public_url(config["PUBLIC_URL"])
    config["PROXY_COUNT"] = _proxy_count(config["PROXY_COUNT"])
    return config


MAX_PROXIES = 5


def _proxy_count(value: object) -> int:
    """0 to ``MAX_PROXIES`` trusted proxies; anything else stops the start plainly."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) > MAX_PROXIES:
        raise ConfigError(
            f"POLARIS_PROXY_COUNT must be a whole number from 0 to {MAX_PROXIES} (got "
            f"{text[:40]!r}): the proxies in front of the app, 1 behind HAProxy"
        )
    return int(text)


SMTP_TLS_MODES = ("starttls", "ssl", "none")


def _smtp(port: object, tls: object) -> tuple[int, str]:
    """The SMTP port (1-65535) and TLS mode; anything else stops the start plainly."""
    text, mode = str(port).strip(), str(tls).strip().lower()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"POLARIS_SMTP_PORT must be a port number (got {text[:40]!r})")
    if mode not in SMTP_TLS_MODES:
        raise ConfigError(f"POLARIS_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}")
    return int(text), mode


def _webhook(url: object, secret: object) -> None:
    """A webhook needs an http(s) URL and a secret to sign with: unsigned alerts could be forged."""
    if not url:
        return
    if not str(url).startswith(("https://", "http://")):
        raise ConfigError("POLARIS_ALERT_WEBHOOK_URL must start with https:// (or http://)")
    if not secret:
        raise ConfigError(
            f"POLARIS_ALERT_WEBHOOK_SECRET must be set with POLARIS_ALERT_WEBHOOK_URL; make one "
            f"with {MAKE_A_KEY}"
        )


def _public_url(url: object) -> str:
    """The app's public base URL without a trailing slash ("" when unset); not http(s): stop."""
    text = str(url or "").strip().rstrip("/")
    if text and not text.startswith(("https://", "http://")):
        raise ConfigError("POLARIS_PUBLIC_URL must start with https:// (or http://)")
    return text


def _ocpi_party(country: object, party: object) -> tuple[str | None, str]:
    """The CDRs' owner: a country code (None: from the time zone) and a party id; a malformed
    one stops the start plainly."""
    try:
        code = ocpi_country_code(str(country)) if country and str(country).strip() else None
        return code, ocpi_party_id(str(party))
    except ValueError as exc:
        raise ConfigError(
            f"POLARIS_OCPI_COUNTRY_CODE / POLARIS_OCPI_PARTY_ID: {exc} (e.g. DE and PLX)"
        ) from None


def _demo(value: object, *, production: bool) -> bool:
    """Demo data on by default in development; never in production, where anyone would know
    the admin's password. Asking for it there is ignored, with a warning saying so."""
    if value is None:
        return not production
    wanted = value if isinstance(value, bool) else str(value).strip().lower() in _TRUE
    if wanted and production:
        log.warning(
            "POLARIS_DEMO=1 is ignored: POLARIS_ENV=production never loads demo data "
            "(its logins and password are public)"
        )
        return False
    return wanted


def _offline_after_s(value: object) -> int:
    """Whole seconds within ``OFFLINE_AFTER_BOUNDS_S``; anything else stops the start plainly."""
    low, high = OFFLINE_AFTER_BOUNDS_S
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(
            f"POLARIS_OFFLINE_AFTER_S must be a whole number of seconds from {low} to {high} "
            f"(got {text[:40]!r}); the default is {DEFAULT_OFFLINE_AFTER_S} (one hour)"
        )
    return int(text)


def _snapshot_seconds(value: object) -> float:
    """0 (always rebuild) to 60 seconds; anything else stops the start plainly."""
    try:
        seconds = float(str(value).strip())
    except ValueError:
        seconds = -1.0
    if isinstance(value, bool) or not 0 <= seconds <= 60:
        raise ConfigError(
            f"POLARIS_SNAPSHOT_S must be a number of seconds from 0 to 60 (got {str(value)[:40]!r})"
            f"; the default is {DEFAULT_SNAPSHOT_S}"
        )
    return seconds


def offline_after_s() -> int:
    """The running app's offline threshold in seconds; the default outside an app (CLI, tests)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return int(current_app.config.get("OFFLINE_AFTER_S", DEFAULT_OFFLINE_AFTER_S))
    return DEFAULT_OFFLINE_AFTER_S


def snapshot_s() -> float:
    """How long a worker reuses its fleet and settings snapshots; the default outside an app."""
    from flask import current_app, has_app_context

    if has_app_context():
        return float(current_app.config.get("SNAPSHOT_S", DEFAULT_SNAPSHOT_S))
    return DEFAULT_SNAPSHOT_S


def key_strength_bits(key: str) -> float:
    """A deliberately pessimistic estimate of how many random bits ``key`` holds.

    Only the shortest block that repeats to make the key counts (``"abc" * 16`` is three
    characters), and in it only the characters that are not the one before or one step from it
    (``aaaa``, ``abcd``, ``4321``); each of those is worth log2(distinct characters in the key).
    Keys from ``secrets.token_urlsafe(32)`` and ``secrets.token_hex(32)`` score about 200 (never
    below 150 in 100,000 tries each), ``"a" * 48`` zero and ``"0123456789" * 4`` three. It
    undercounts: 32 hex characters (128 random bits) score about 100, so hex keys need 64.
    """
    n = len(key)
    period = next((p for p in range(1, n // 2 + 1) if key[p:] == key[:-p]), n)
    unit = key[:period]
    fresh = sum(1 for i, ch in enumerate(unit) if i == 0 or abs(ord(ch) - ord(unit[i - 1])) > 1)
    distinct = len(set(key))
    return fresh * math.log2(distinct) if distinct > 1 else 0.0


def weak_key_reason(key: str) -> str | None:
    """Why ``key`` is too weak for production, or None when it is fine."""
    lowered = key.lower()
    if len(key) < MIN_KEY_LENGTH:
        return f"it has {len(key)} characters; use at least {MIN_KEY_LENGTH}"
    if lowered in KNOWN_WEAK_KEYS:
        return "it is a well-known example value"
    word = next((w for w in WEAK_KEY_WORDS if w in lowered), None)
    if word is not None:
        return f"it contains the word {word!r}, which guessers try first"
    bits = key_strength_bits(key)
    if bits < MIN_KEY_BITS:
        return (
            f"it looks too regular to be random (repeats, runs or too few different characters: "
            f"about {bits:.0f} bits of the {MIN_KEY_BITS} needed)"
        )
    return None


def _secret_key(config: Mapping[str, Any]) -> str:
    key = config.get("SECRET_KEY")
    production = config["ENV"] == "production"
    if key:
        reason = weak_key_reason(key) if production else None
        if reason is not None:
            raise ConfigError(
                f"SECRET_KEY is too weak for production: {reason}. Make a random one with "
                f"{MAKE_A_KEY}"
            )
        return key
    if production:
        raise ConfigError(
            f"SECRET_KEY must be set in production (POLARIS_ENV=production); make one with "
            f"{MAKE_A_KEY}"
        )
    # Development: a random key generated once and kept, so restarts keep people signed in.
    path = INSTANCE / "secret_key"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
