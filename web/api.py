"""``/api/v1/``: the JSON API for integrators: commands to chargers (issue 15).

``POST /api/v1/chargers/<charger_id>/commands`` with ``{"action": "Reset", "params": {"type":
"Soft"}}`` asks for a command (``data.ocpp.commands.request_command``: a ``pending`` row the OCPP
server delivers) and answers ``202`` with the command and its ``Location``;
``GET /api/v1/commands/<id>`` reads it back (with ``session_id`` once a RemoteStartTransaction
has started a session); ``GET /api/v1/openapi.json`` describes it all (OpenAPI 3.1, made from
the pydantic models below), the one route that needs no token.

Signing in is by ``Authorization: Bearer <token>`` only, a token with the ``commands`` scope
(``data.accounts.tokens``); a session cookie is never looked at, so a page open in a browser
cannot be made to send commands (which is also why the blueprint is exempt from CSRF), and the
request guard leaves this blueprint's routes to it. A path under ``/api/v1/`` that is no route
answers 404 (or 405 with ``Allow``), to a valid token only. An admin account's token may
command any charger. A customer account's token goes by the dashboard's own rules, the same
code and the same words (``data.ocpp.driver_commands``): it may only start charging as itself
on a charger it may see that is Online now (optionally on a connector the charger reported),
and stop its own session in progress; a few commands a minute (``data.ocpp.command_limits``:
429 with ``Retry-After``); it sees only its own account's commands (404 for any other: an id
tells nothing). A driver's refusal is 403 when it is not the account's to ask (an unknown
charger and one it may not see alike, another account, an operator's action) and 409 when it
is, but not now (not Online, no such connector, no id tag, no session in progress). Every
error is ``{"error": "..."}`` with its status: 400 (invalid JSON or parameters, in pydantic's
words; ReserveNow and CancelReservation too: Polaris sends them for reservations only), 401
(no or bad token, with ``WWW-Authenticate``), 403, 404, 405, 409, 415 (not JSON),
429.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.exceptions import HTTPException

from auth.guard import BEARER_ONLY_BLUEPRINT
from config import offline_after_s
from data.accounts.tokens import (
    COMMANDS_SCOPE,
    ME_SCOPE,
    TokenIdentity,
    authenticate_token,
    bearer_secret,
    has_bearer_header,
)
from data.audit.entries import Actor
from data.core.models import Charger
from data.ocpp.command_limits import TooManyCommands
from data.ocpp.commands import (
    ASKABLE_ACTIONS,
    CommandError,
    CommandRow,
    check_askable,
    command,
    operator_command,
    started_session_id,
)
from data.ocpp.driver_commands import (
    CommandForbidden,
    DriverCommandRefused,
    account_command,
    driver_command,
)
from web.api_me import ME_INPUTS, ME_OUTPUTS, ApiError, me_paths, register_me_routes
from web.db import session_scope

API_PREFIX = "/api/v1"
api_blueprint_name = BEARER_ONLY_BLUEPRINT  # the request guard leaves its requests to it
_CATCH_ALL = "not_found"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_REALM = 'Bearer realm="Polaris Express API"'


# --- the bodies ----------------------------------------------------------------------------------


class CommandRequest(BaseModel):
    """What ``POST .../commands`` accepts: an OCPP 1.6 action and its parameters (snake_case).
    The parameters are checked per action when the command is asked for (see the
    ``<Action>Command`` schemas)."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=32, examples=["Reset"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"type": "Soft"}])


class CommandOut(BaseModel):
    """A command as the API shows it."""

    id: int
    charger_id: str
    action: str
    params: dict[str, Any]
    status: Literal["pending", "sent", "accepted", "rejected", "failed", "timeout", "offline"]
    response: dict[str, Any] | None = Field(description="The charger's answer, as it sent it.")
    requested_at: datetime
    answered_at: datetime | None
    session_id: str | None = Field(
        default=None,
        description="RemoteStartTransaction: the session the charger started, once it did.",
    )

    @classmethod
    def of(cls, row: CommandRow, session_id: str | None) -> CommandOut:
        return cls(
            id=row.id,
            charger_id=row.charger_id,
            action=row.action,
            params=row.params,
            status=row.status.value,
            response=row.response,
            requested_at=row.requested_at,
            answered_at=row.answered_at,
            session_id=session_id,
        )


class ErrorOut(BaseModel):
    """Every error: what is wrong, for a person."""

    error: str


def _action_models() -> list[type[BaseModel]]:
    """One documented request per action one may ask for: ``{"action": "<Action>", "params":
    <its model>}`` (not ReserveNow / CancelReservation: reservations make those)."""
    models: list[type[BaseModel]] = []
    for action, params in ASKABLE_ACTIONS.items():
        model: type[BaseModel] = create_model(
            f"{action}Command",
            __config__=ConfigDict(extra="forbid"),
            action=(Literal[action], ...),  # type: ignore[arg-type]
            params=(params, ...),
        )
        models.append(model)
    return models


# --- answers -------------------------------------------------------------------------------------


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(ErrorOut(error=message).model_dump())
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _unauthorized(message: str, bad_token: bool) -> Response:
    challenge = _REALM + (', error="invalid_token"' if bad_token else "")
    return _error(401, message, {"WWW-Authenticate": challenge})


def _command_json(row: CommandRow, session_id: str | None, status: int = 200) -> Response:
    response = current_app.response_class(
        CommandOut.of(row, session_id).model_dump_json(), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _identity() -> TokenIdentity:
    identity: TokenIdentity = g.polaris_api_identity  # set by the blueprint's before_request
    return identity


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


# --- the routes ----------------------------------------------------------------------------------


def api_blueprint() -> Blueprint:
    bp = Blueprint(api_blueprint_name, __name__, url_prefix=API_PREFIX)

    @bp.before_request
    def bearer_token_only() -> Response | None:
        if request.endpoint == f"{api_blueprint_name}.openapi":
            return None  # the one public route (tests/test_security_routes.py lists it)
        # /me/... is a driver's own data (scope me); everything else commands (scope commands).
        mine = request.path.startswith(f"{API_PREFIX}/me/")
        scope = ME_SCOPE if mine else COMMANDS_SCOPE
        header = request.headers.get("Authorization")
        secret = bearer_secret(header)
        if secret is None:
            if has_bearer_header(header):
                return _unauthorized("The API token is not valid.", bad_token=True)
            return _unauthorized(
                f"Send an API token with the {scope} scope: Authorization: Bearer <token>.",
                bad_token=False,
            )
        with session_scope() as s:
            identity = authenticate_token(s, secret, datetime.now(UTC))
        if identity is None:
            return _unauthorized(
                "The API token is not valid: it is unknown or was revoked.", bad_token=True
            )
        if scope not in identity.scopes:
            what = "read or book as its account" if mine else "send commands"
            return _error(
                403,
                f"This token may not {what}: it lacks the {scope} scope.",
                {"WWW-Authenticate": _REALM + f', error="insufficient_scope", scope="{scope}"'},
            )
        if mine and identity.is_admin:
            return _error(403, "These routes are a customer account's; this token is an admin's.")
        g.polaris_api_identity = identity
        return None

    @bp.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _error(exc.status, exc.message)

    register_me_routes(bp)

    @bp.post("/chargers/<charger_id>/commands")
    def ask(charger_id: str) -> Response:
        if not request.is_json:
            return _error(415, "Send JSON (Content-Type: application/json).")
        body = request.get_json(silent=True)
        if body is None:
            return _error(400, "The request body is not valid JSON.")
        try:
            asked = CommandRequest.model_validate(body)
        except ValidationError as exc:
            return _error(400, _pydantic_message(exc))
        identity = _identity()
        now = datetime.now(UTC)
        try:
            check_askable(asked.action)  # 400 for anyone, before who may send what
            with session_scope() as s:
                if identity.is_admin:
                    # Held while asking: the session's identity map keeps an object only while
                    # it is referenced, and request_command looks the charger up again.
                    charger = s.get(Charger, charger_id)
                    if charger is None:
                        return _error(404, f"There is no charger {charger_id!r}.")
                    row = operator_command(
                        s,
                        charger_id,
                        asked.action,
                        asked.params,
                        now,
                        actor=Actor(identity.email, identity.user_id, identity.account_id),
                    )
                else:
                    # The dashboard's rules: unknown and not visible alike (403), so a driver
                    # learns nothing about the fleet.
                    row = driver_command(
                        s,
                        user_id=identity.user_id,
                        account_id=identity.account_id,
                        charger_id=charger_id,
                        action=asked.action,
                        params=asked.params,
                        now=now,
                        offline_after_s=offline_after_s(),
                    )
        except TooManyCommands as exc:
            return _error(429, str(exc), {"Retry-After": str(exc.retry_after_s)})
        except CommandForbidden as exc:
            return _error(403, str(exc))
        except DriverCommandRefused as exc:
            return _error(409, str(exc))
        except CommandError as exc:
            return _error(400, str(exc))
        response = _command_json(row, None, status=202)
        response.headers["Location"] = f"{API_PREFIX}/commands/{row.id}"
        return response

    @bp.get("/commands/<int:command_id>")
    def show(command_id: int) -> Response:
        identity = _identity()
        with session_scope() as s:
            if identity.is_admin:
                row = command(s, command_id)
            else:
                row = account_command(s, command_id, identity.account_id)
            session_id = None if row is None else started_session_id(s, row)
        if row is None:
            return _error(404, f"There is no command {command_id}.")
        return _command_json(row, session_id)

    @bp.get("/openapi.json")
    def openapi() -> Response:
        response = jsonify(openapi_document())
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    @bp.route("/<path:_rest>", methods=list(_METHODS), endpoint=_CATCH_ALL)
    def not_found(_rest: str) -> Response:
        allowed = _allowed_methods(request.path)
        if allowed:
            return _error(
                405,
                f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                {"Allow": ", ".join(allowed)},
            )
        return _error(404, "There is no such API route.")

    return bp


def _allowed_methods(path: str) -> list[str]:
    """The methods an API route (not the catch-all) answers at ``path``."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in _METHODS:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint.startswith(f"{api_blueprint_name}.") and endpoint != (
            f"{api_blueprint_name}.{_CATCH_ALL}"
        ):
            allowed.append(method)
    return allowed


# --- OpenAPI -------------------------------------------------------------------------------------


def _json_body(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


DRIVER_RULES = (
    "An admin account's token may send any action to any charger (404 for an unknown one). "
    "A customer (driver) account's token follows the dashboard's rules: "
    "RemoteStartTransaction on a charger the account may see that is Online now, with its own "
    "id tag (leave `id_tag` out; `account_id`, if given, must be its own), optionally on a "
    "`connector_id` the charger reported (not out of order); RemoteStopTransaction of its own "
    "session in progress on that charger (`session_id` optional: without it, its latest one "
    "there; never a `transaction_id`); any other action is 403. 403: not the account's to ask "
    "(an unknown charger answers like one it may not see); 409: allowed but not now, in words "
    "for the driver; 429: more than a few commands a minute."
)


def openapi_document() -> dict[str, Any]:
    """The API in OpenAPI 3.1: the schemas from the pydantic models, the paths, bearer auth."""
    schema_ref = "#/components/schemas/{model}"
    action_models = _action_models()
    inputs: list[type[BaseModel]] = [CommandRequest, *action_models, *ME_INPUTS]
    documented: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in inputs]
    outputs: list[type[BaseModel]] = [CommandOut, ErrorOut, *ME_OUTPUTS]
    documented += [(m, "serialization") for m in outputs]
    _, definitions = models_json_schema(documented, ref_template=schema_ref)
    schemas: dict[str, Any] = definitions.get("$defs", {})
    error = "#/components/schemas/ErrorOut"

    def errors(*statuses: int) -> dict[str, Any]:
        words = {
            400: "Invalid JSON or parameters.",
            401: "No token, or not a valid one.",
            403: "The token or its account may not do this.",
            404: "Not found (or not this account's).",
            409: "A driver's command that is allowed, but not now: the charger is not Online, "
            "has no such connector (or it is out of order), the account has no id tag, or it "
            "has no session in progress to stop.",
            415: "The body is not JSON.",
            429: "Too many commands: wait for Retry-After seconds.",
        }
        answers = {str(s): _json_body(error, words[s]) for s in statuses}
        if 429 in statuses:
            answers["429"]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
            }
        return answers

    command_id = {
        "name": "command_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    charger_id = {
        "name": "charger_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    request_schema = {
        "oneOf": [{"$ref": schema_ref.format(model=m.__name__)} for m in action_models],
        "discriminator": {"propertyName": "action"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Polaris Express API",
            "version": "1",
            "description": (
                "Commands to chargers (OCPP 1.6 actions, parameters in snake_case). A command "
                "is pending until the charger's OCPP server delivers it; poll it for the answer."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            f"{API_PREFIX}/chargers/{{charger_id}}/commands": {
                "post": {
                    "operationId": "askCommand",
                    "summary": "Ask a charger to do something",
                    "description": DRIVER_RULES,
                    "parameters": [charger_id],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": request_schema}},
                    },
                    "responses": {
                        "202": {
                            **_json_body(
                                "#/components/schemas/CommandOut", "Asked: the command, pending."
                            ),
                            "headers": {
                                "Location": {
                                    "schema": {"type": "string"},
                                    "description": "Where to poll the command.",
                                }
                            },
                        },
                        **errors(400, 401, 403, 404, 409, 415, 429),
                    },
                }
            },
            f"{API_PREFIX}/commands/{{command_id}}": {
                "get": {
                    "operationId": "showCommand",
                    "summary": "A command, with the charger's answer once it came",
                    "parameters": [command_id],
                    "responses": {
                        "200": _json_body("#/components/schemas/CommandOut", "The command."),
                        **errors(401, 403, 404),
                    },
                }
            },
            **me_paths(API_PREFIX, schema_ref),
            f"{API_PREFIX}/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token with the commands scope "
                    "(the me scope for /me, a customer account's) "
                    "(flask create-token EMAIL --scope commands, or /admin/tokens).",
                }
            },
        },
    }


def register_api_routes(server: Flask) -> None:
    """Serve ``/api/v1/`` from ``server``, exempt from CSRF: it takes bearer tokens only, never
    a cookie (``install_auth`` has installed CSRF protection already)."""
    bp = api_blueprint()
    server.register_blueprint(bp)
    server.extensions["csrf"].exempt(bp)
