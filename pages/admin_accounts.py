"""``/admin/accounts``: people and their accounts. Search, create a person, set a password,
put an account on a plan, grant and revoke restricted chargers, remove an account.

The layout is a static skeleton; callbacks fill it. Every callback is ``@admin_only``. The
browser holds only keys (the chosen person and account in ``SELECTED_ID``, charger ids on
buttons): each is looked up again and validated before anything is read or written, and the
acting admin always comes from the server session. Writes commit in ``session_scope()``, so the
customer's next request (sign-in reloads accounts; the dashboard re-reads plans and grants) sees
them. The New person dialog's callbacks are in ``pages/_new_person.py``, what both share in
``pages/_accounts.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.accounts import current_actor, keep_signed_in
from auth.roles import admin_only
from components.admin import admin_page
from components.forms import error_id, failure, success
from components.people_list import (
    ACCOUNTS_ALERT_ID,
    ACCOUNTS_COUNT_ID,
    ACCOUNTS_EXPORT_ID,
    ACCOUNTS_GRID_ID,
    ACCOUNTS_SEARCH_ID,
    SELECTED_ID,
    accounts_export_href,
    accounts_skeleton,
    count_text,
    grid_rows,
    grid_style,
)
from components.person import (
    ACCOUNT_DEFAULT_TYPE,
    ACCOUNT_HEADING_ID,
    ACCOUNT_PICK_TYPE,
    ACCOUNT_TOOLS_ID,
    ADD_ACCOUNT_FIELDS,
    ADD_FEEDBACK_ID,
    ADD_PLAN_ID,
    ADD_ROLE_ID,
    ADD_SAVE_ID,
    ADMIN_ACCOUNT_NOTE_ID,
    CARD_ADD_ID,
    CARD_ADD_SAVE_ID,
    CARD_FEEDBACK_ID,
    CARD_UNBLOCK_TYPE,
    CARDS_LIST_ID,
    CUSTOMER_TOOLS_ID,
    DEFAULT_FEEDBACK_ID,
    GRANT_CHARGER_ID,
    GRANT_FEEDBACK_ID,
    GRANT_SAVE_ID,
    GRANTS_LIST_ID,
    PASSWORD_FEEDBACK_ID,
    PASSWORD_INPUT_ID,
    PASSWORD_SAVE_ID,
    PERSON_ACCOUNTS_ID,
    PERSON_HEADING_ID,
    PERSON_PANEL_ID,
    PLAN_FEEDBACK_ID,
    PLAN_SAVE_ID,
    PLAN_SELECT_ID,
    REMOVE_BODY_ID,
    REMOVE_CANCEL_ID,
    REMOVE_CONFIRM_ID,
    REMOVE_FEEDBACK_ID,
    REMOVE_MODAL_ID,
    REMOVE_OPEN_ID,
    REVOKE_TYPE,
    account_heading,
    cards_list,
    charger_choice_options,
    grants_list,
    person_accounts,
    person_heading,
    remove_question,
)
from components.plans import NO_PLAN_VALUE, plan_options
from data.accounts.cards import account_cards, unblock_card
from data.accounts.people import (
    SEARCH_FILTER,
    NewAccount,
    add_account,
    check_account_removal,
    parse_accounts_request,
    person,
    remove_account,
    search_accounts,
    set_account_plan,
    set_default_account,
    set_person_password,
)
from data.accounts.plans import list_plans
from data.accounts.validation import SEARCH_MAX_LENGTH, InvalidInput
from data.chargers.grants import (
    GrantedCharger,
    account_grants,
    grant_charger,
    restricted_charger_choices,
    revoke_charger,
)
from data.charging.dashboard import operator_settings
from data.core.models import Role
from data.ocpp.admin import OcppAdminError, assign_id_tag
from pages import _new_person
from pages._accounts import (
    field_messages,
    pattern_click,
    plan_choice,
    refresh_grid,
    select,
    selection,
)
from pages._admin import admin_layout, clicked, pressed
from web.db import session_scope

PATH = "/admin/accounts"
dash.register_page(__name__, path=PATH, title="Accounts · Polaris Express", name="Accounts")
_new_person.register()  # the New person dialog (pages/_new_person.py)

# Reset when another person or account is chosen: what the tools said about the previous one,
# and anything typed for them (a half-typed password must never carry over to someone else).
_RESET_ON_CHOICE: tuple[tuple[str, str, Any], ...] = (
    *((i, "children", "") for i in (
        PLAN_FEEDBACK_ID,
        GRANT_FEEDBACK_ID,
        CARD_FEEDBACK_ID,
        PASSWORD_FEEDBACK_ID,
        REMOVE_FEEDBACK_ID,
        ADD_FEEDBACK_ID,
        DEFAULT_FEEDBACK_ID,
        ACCOUNTS_ALERT_ID,
    )),
    (PASSWORD_INPUT_ID, "value", ""),
    (CARD_ADD_ID, "value", ""),
    (PASSWORD_INPUT_ID, "invalid", False),
    *((error_id(i), "children", "") for i in ADD_ACCOUNT_FIELDS.values()),
    (ADD_ACCOUNT_FIELDS["account_id"], "value", ""),
    (ADD_ACCOUNT_FIELDS["label"], "value", ""),
)  # fmt: skip
_RESET_OUTPUTS = [Output(i, prop, allow_duplicate=True) for i, prop, _ in _RESET_ON_CHOICE]
_RESET_VALUES = [value for _, _, value in _RESET_ON_CHOICE]


@admin_layout
def layout(**_: object) -> Component:
    return admin_page("Accounts", PATH, *accounts_skeleton())


# --- the list -----------------------------------------------------------------------------------


@callback(
    Output(ACCOUNTS_GRID_ID, "getRowsResponse"),
    Output(ACCOUNTS_COUNT_ID, "children"),
    Output(ACCOUNTS_GRID_ID, "style"),
    Input(ACCOUNTS_GRID_ID, "getRowsRequest"),
)
@admin_only
def load_rows(request: object) -> tuple[Any, Any, Any]:
    """One block of rows for the grid, searched, filtered, sorted and paged in SQL."""
    if not request:
        raise PreventUpdate
    query = parse_accounts_request(request)
    first_block = query.offset == 0
    with session_scope() as s:
        page = search_accounts(s, query, with_total=first_block)
    response: dict[str, Any] = {"rowData": grid_rows(page.rows)}
    if page.total is not None:
        response["rowCount"] = page.total
    count: Any = no_update
    style: Any = no_update
    if first_block and page.total is not None:
        count = count_text(page.total, query.search, filtered=bool(query.filters))
        style = grid_style(page.total)
    return response, count, style


@callback(
    Output(ACCOUNTS_GRID_ID, "filterModel"),
    Input(ACCOUNTS_SEARCH_ID, "value"),
    State(ACCOUNTS_GRID_ID, "filterModel"),
    prevent_initial_call=True,
)
@admin_only
def apply_search(text: object, model: object) -> dict[str, Any]:
    """The search box rides in the grid's filter model (hidden column), beside column filters."""
    new = dict(model) if isinstance(model, dict) else {}
    term = text.strip()[:SEARCH_MAX_LENGTH] if isinstance(text, str) else ""
    if term:
        new[SEARCH_FILTER] = {"filterType": "text", "type": "contains", "filter": term}
    else:
        new.pop(SEARCH_FILTER, None)
    return new


@callback(
    Output(ACCOUNTS_EXPORT_ID, "href"),
    Input(ACCOUNTS_GRID_ID, "filterModel"),
)
@admin_only
def export_link_for(model: object) -> str:
    """The "Export CSV" link carries the grid's filters: this runs on every change of its
    filter model (the search box, a column menu), so the link matches the table."""
    return accounts_export_href(model)


@callback(
    Output(SELECTED_ID, "data"),
    *_RESET_OUTPUTS,
    Input(ACCOUNTS_GRID_ID, "selectedRows"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def choose_row(rows: object, previous: object) -> tuple[Any, ...]:
    row = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else None
    if row is None:
        raise PreventUpdate
    user_id, account_id = selection(row)
    if user_id is None or (user_id, account_id) == selection(previous):
        raise PreventUpdate  # nothing new (the grid re-reports its selection after a refresh)
    return (select(user_id, account_id, previous), *_RESET_VALUES)


@callback(
    Output(SELECTED_ID, "data", allow_duplicate=True),
    *_RESET_OUTPUTS,
    Input({"type": ACCOUNT_PICK_TYPE, "account": ALL}, "n_clicks"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def pick_account(_clicks: list[Any], selected: object) -> tuple[Any, ...]:
    account_id = pattern_click()
    user_id, _ = selection(selected)
    if account_id is None or user_id is None:
        raise PreventUpdate
    return (select(user_id, account_id, selected), *_RESET_VALUES)


# --- one person ---------------------------------------------------------------------------------


@callback(
    Output(PERSON_PANEL_ID, "hidden"),
    Output(PERSON_HEADING_ID, "children"),
    Output(PERSON_ACCOUNTS_ID, "children"),
    Output(ACCOUNT_TOOLS_ID, "hidden"),
    Output(ACCOUNT_HEADING_ID, "children"),
    Output(CUSTOMER_TOOLS_ID, "hidden"),
    Output(ADMIN_ACCOUNT_NOTE_ID, "hidden"),
    Output(PLAN_SELECT_ID, "options"),
    Output(PLAN_SELECT_ID, "value"),
    Output(GRANTS_LIST_ID, "children"),
    Output(GRANT_CHARGER_ID, "options"),
    Output(GRANT_CHARGER_ID, "value"),
    Output(ADD_PLAN_ID, "options"),
    Output(ACCOUNTS_ALERT_ID, "children"),
    Input(SELECTED_ID, "data"),
)
@admin_only
def show_person(selected: object) -> tuple[Any, ...]:
    """The chosen person, read fresh from the database (the store holds only keys)."""
    user_id, account_id = selection(selected)
    if user_id is None:
        return (True, *([no_update] * 13))
    with session_scope() as s:
        found = person(s, user_id)
        plans = list_plans(s) if found is not None else []
        chosen = None
        if found is not None:
            chosen = found.account(account_id) or found.account(found.default_account_id)
        grants: list[GrantedCharger] = []
        total = 0
        choices = []
        if chosen is not None and not chosen.is_admin:
            grants, total = account_grants(s, chosen.account_id)
            choices = restricted_charger_choices(s, chosen.account_id, "")
    if found is None:
        gone = failure("That person no longer exists. Search again.")
        return (True, *([no_update] * 12), gone)
    customer = chosen is not None and not chosen.is_admin
    fresh = not isinstance(selected, dict) or selected.get("fresh", True) is not False
    plan_value = (
        ((chosen.plan_id or NO_PLAN_VALUE) if chosen else NO_PLAN_VALUE) if fresh else no_update
    )
    return (
        False,
        person_heading(found),
        person_accounts(found, chosen.account_id if chosen else None),
        chosen is None,
        account_heading(chosen),
        not customer,
        customer or chosen is None,
        plan_options(plans),
        plan_value,
        grants_list(grants, total),
        charger_choice_options(choices) if fresh else no_update,
        None if fresh else no_update,
        plan_options(plans),
        no_update,  # keep a confirmation ("created", "removed") that led here
    )


@callback(
    Output(PASSWORD_FEEDBACK_ID, "children"),
    Output(PASSWORD_INPUT_ID, "value"),
    Output(PASSWORD_INPUT_ID, "invalid"),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Input(PASSWORD_SAVE_ID, "n_clicks"),
    State(PASSWORD_INPUT_ID, "value"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_password(clicks: object, password: object, selected: object) -> tuple[Any, ...]:
    if not clicked(clicks):
        raise PreventUpdate
    user_id, account_id = selection(selected)
    if user_id is None:
        raise PreventUpdate
    actor = current_actor()
    try:
        with session_scope() as s:
            set_person_password(s, user_id, password, actor=actor, now=datetime.now(UTC))
            found = person(s, user_id)
            name = found.display_name if found is not None else ""
    except InvalidInput as exc:
        return failure(exc.message), no_update, True, no_update
    if user_id == actor.user_id:
        keep_signed_in(user_id)  # their own: the other sessions end, this one stays
        message = "Your password is changed. Your other sessions have ended."
    else:
        message = f"Password set for {name}. Any session they had open has ended."
    return success(message), "", False, select(user_id, account_id, selected)


@callback(
    Output(PLAN_FEEDBACK_ID, "children"),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Output(ACCOUNTS_GRID_ID, "filterModel", allow_duplicate=True),
    Input(PLAN_SAVE_ID, "n_clicks"),
    State(PLAN_SELECT_ID, "value"),
    State(SELECTED_ID, "data"),
    State(ACCOUNTS_GRID_ID, "filterModel"),
    prevent_initial_call=True,
)
@admin_only
def assign_plan(
    clicks: object, plan_id: object, selected: object, model: object
) -> tuple[Any, ...]:
    if not clicked(clicks):
        raise PreventUpdate
    user_id, account_id = selection(selected)
    if user_id is None:
        raise PreventUpdate
    try:
        with session_scope() as s:
            name = set_account_plan(
                s, account_id, plan_choice(plan_id), actor=current_actor(), now=datetime.now(UTC)
            )
    except InvalidInput as exc:
        return failure(exc.message), no_update, no_update
    text = f"{account_id} is now on {name}." if name else f"{account_id} has no plan now."
    return success(text), select(user_id, account_id, selected), refresh_grid(model)


@callback(
    Output(GRANT_CHARGER_ID, "options", allow_duplicate=True),
    Input(GRANT_CHARGER_ID, "search_value"),
    State(GRANT_CHARGER_ID, "value"),
    State(GRANT_CHARGER_ID, "options"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def find_chargers(text: object, value: object, options: object, selected: object) -> Any:
    """Restricted chargers not granted yet whose id or name contains the text typed."""
    _, account_id = selection(selected)
    if account_id is None or not isinstance(text, str):
        raise PreventUpdate
    with session_scope() as s:
        choices = charger_choice_options(restricted_charger_choices(s, account_id, text))
    # Keep the option already picked, so typing never clears the choice.
    if isinstance(options, list) and value and all(c["value"] != value for c in choices):
        choices += [o for o in options if isinstance(o, dict) and o.get("value") == value]
    return choices


@callback(
    Output(GRANT_FEEDBACK_ID, "children"),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Output(GRANT_CHARGER_ID, "value", allow_duplicate=True),
    Output(GRANT_CHARGER_ID, "options", allow_duplicate=True),
    Input(GRANT_SAVE_ID, "n_clicks"),
    State(GRANT_CHARGER_ID, "value"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def grant(clicks: object, charger_id: object, selected: object) -> tuple[Any, ...]:
    if not clicked(clicks):
        raise PreventUpdate
    user_id, account_id = selection(selected)
    if user_id is None:
        raise PreventUpdate
    if not charger_id:
        return failure("Pick a restricted charger first."), no_update, no_update, no_update
    try:
        with session_scope() as s:
            change = grant_charger(
                s, account_id, charger_id, actor=current_actor(), now=datetime.now(UTC)
            )
            # The choices without the one just granted (only chargers not granted yet).
            choices = charger_choice_options(restricted_charger_choices(s, str(account_id), ""))
    except InvalidInput as exc:
        refreshed = select(user_id, account_id, selected)
        return failure(exc.message), refreshed, None, no_update
    charger = f"{change.friendly_name} ({change.charger_id})"
    text = (
        f"{account_id} may now use {charger}."
        if change.changed
        else f"{account_id} could already use {charger}."
    )
    return success(text), select(user_id, account_id, selected), None, choices


@callback(
    Output(GRANT_FEEDBACK_ID, "children", allow_duplicate=True),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Input({"type": REVOKE_TYPE, "charger": ALL}, "n_clicks"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def revoke(_clicks: list[Any], selected: object) -> tuple[Any, ...]:
    charger_id = pattern_click()
    user_id, account_id = selection(selected)
    if charger_id is None or user_id is None:
        raise PreventUpdate
    try:
        with session_scope() as s:
            change = revoke_charger(
                s, account_id, charger_id, actor=current_actor(), now=datetime.now(UTC)
            )
    except InvalidInput as exc:
        return failure(exc.message), no_update
    charger = f"{change.friendly_name} ({change.charger_id})"
    text = (
        f"{account_id} can no longer use {charger}."
        if change.changed
        else f"{charger} was no longer granted to {account_id}."
    )
    return success(text), select(user_id, account_id, selected)


@callback(
    Output(DEFAULT_FEEDBACK_ID, "children"),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Output(ACCOUNTS_GRID_ID, "filterModel", allow_duplicate=True),
    Input({"type": ACCOUNT_DEFAULT_TYPE, "account": ALL}, "n_clicks"),
    State(SELECTED_ID, "data"),
    State(ACCOUNTS_GRID_ID, "filterModel"),
    prevent_initial_call=True,
)
@admin_only
def make_default(_clicks: list[Any], selected: object, model: object) -> tuple[Any, ...]:
    account_id = pattern_click()
    user_id, chosen = selection(selected)
    if account_id is None or user_id is None:
        raise PreventUpdate
    try:
        with session_scope() as s:
            set_default_account(
                s, user_id, account_id, actor=current_actor(), now=datetime.now(UTC)
            )
    except InvalidInput as exc:
        return failure(exc.message), no_update, no_update
    text = f"They now sign in to {account_id}; switching accounts stays possible."
    return success(text), select(user_id, chosen, selected), refresh_grid(model)


# --- cards (id tags) ------------------------------------------------------------------------------


@callback(
    Output(CARDS_LIST_ID, "children"),
    Input(SELECTED_ID, "data"),
)
@admin_only
def show_cards(selected: object) -> Any:
    """The chosen account's cards, read fresh (blocked ones with Unblock)."""
    _user_id, account_id = selection(selected)
    if account_id is None:
        return []
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        cards = account_cards(s, account_id)
    return cards_list(cards, tz, now)


@callback(
    Output(CARD_FEEDBACK_ID, "children", allow_duplicate=True),
    Output(CARD_ADD_ID, "value", allow_duplicate=True),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Input(CARD_ADD_SAVE_ID, "n_clicks"),
    State(CARD_ADD_ID, "value"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def add_card(clicks: object, id_tag: object, selected: object) -> tuple[Any, ...]:
    """Give the chosen customer account a card (``assign_id_tag``: a tag in use is refused)."""
    if not clicked(clicks):
        raise PreventUpdate
    user_id, account_id = selection(selected)
    if user_id is None or account_id is None:
        raise PreventUpdate
    try:
        with session_scope() as s:
            added = assign_id_tag(
                s, id_tag, account_id, actor=current_actor(), now=datetime.now(UTC)
            )
    except OcppAdminError as exc:
        return failure(str(exc)), no_update, no_update
    text = f"Card {added.id_tag} added to {added.account_id}."
    return success(text), "", select(user_id, account_id, selected)


@callback(
    Output(CARD_FEEDBACK_ID, "children", allow_duplicate=True),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Input({"type": CARD_UNBLOCK_TYPE, "card": ALL}, "n_clicks"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def unblock(_clicks: list[Any], selected: object) -> tuple[Any, ...]:
    trigger = ctx.triggered_id
    user_id, account_id = selection(selected)
    if not isinstance(trigger, dict) or not pressed() or user_id is None or account_id is None:
        raise PreventUpdate
    id_tag = trigger.get("card")
    try:
        with session_scope() as s:
            changed = unblock_card(
                s, account_id, id_tag, actor=current_actor(), now=datetime.now(UTC)
            )
    except InvalidInput as exc:
        return failure(exc.message), select(user_id, account_id, selected)
    text = (
        f"Card {id_tag} is unblocked: chargers accept it again."
        if changed
        else f"Card {id_tag} was not blocked."
    )
    return success(text), select(user_id, account_id, selected)


# --- removing an account ------------------------------------------------------------------------


@callback(
    Output(REMOVE_MODAL_ID, "is_open"),
    Output(REMOVE_BODY_ID, "children"),
    Output(REMOVE_FEEDBACK_ID, "children"),
    Input(REMOVE_OPEN_ID, "n_clicks"),
    Input(REMOVE_CANCEL_ID, "n_clicks"),
    State(SELECTED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def ask_remove(_open: object, _cancel: object, selected: object) -> tuple[Any, ...]:
    """Explain a refusal straight away; ask for confirmation only when removal would work."""
    if ctx.triggered_id == REMOVE_CANCEL_ID:
        return False, no_update, ""
    user_id, account_id = selection(selected)
    try:
        with session_scope() as s:
            check_account_removal(s, account_id, actor=current_actor())
            found = person(s, user_id) if user_id is not None else None
    except InvalidInput as exc:
        return False, no_update, failure(exc.message)
    name = found.display_name if found else "this person"
    return True, remove_question(str(account_id), name), ""


@callback(
    Output(REMOVE_MODAL_ID, "is_open", allow_duplicate=True),
    Output(REMOVE_FEEDBACK_ID, "children", allow_duplicate=True),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Output(ACCOUNTS_GRID_ID, "filterModel", allow_duplicate=True),
    Output(ACCOUNTS_ALERT_ID, "children", allow_duplicate=True),
    Input(REMOVE_CONFIRM_ID, "n_clicks"),
    State(SELECTED_ID, "data"),
    State(ACCOUNTS_GRID_ID, "filterModel"),
    prevent_initial_call=True,
)
@admin_only
def confirm_remove(clicks: object, selected: object, model: object) -> tuple[Any, ...]:
    if not clicked(clicks):
        raise PreventUpdate
    user_id, account_id = selection(selected)
    try:
        with session_scope() as s:
            removed = remove_account(s, account_id, actor=current_actor(), now=datetime.now(UTC))
    except InvalidInput as exc:
        return False, failure(exc.message), no_update, no_update, no_update
    extra = []
    if removed.grants:
        extra.append(f"{removed.grants} charger grant{'s' if removed.grants != 1 else ''}")
    if removed.id_tags:
        extra.append(f"{removed.id_tags} card{'s' if removed.id_tags != 1 else ''}")
    text = f"Account {removed.account_id} removed" + (
        f" with {' and '.join(extra)}." if extra else "."
    )
    return (
        False,
        "",
        select(user_id, None, selected) if user_id is not None else no_update,
        refresh_grid(model),
        success(text),
    )


# --- adding an account (a new person: pages/_new_person.py) -------------------------------------


@callback(
    Output(ADD_FEEDBACK_ID, "children"),
    *(Output(error_id(i), "children") for i in ADD_ACCOUNT_FIELDS.values()),
    Output(ADD_ACCOUNT_FIELDS["account_id"], "value"),
    Output(ADD_ACCOUNT_FIELDS["label"], "value"),
    Output(SELECTED_ID, "data", allow_duplicate=True),
    Output(ACCOUNTS_GRID_ID, "filterModel", allow_duplicate=True),
    Input(ADD_SAVE_ID, "n_clicks"),
    State(ADD_ROLE_ID, "value"),
    *(State(i, "value") for i in ADD_ACCOUNT_FIELDS.values()),
    State(SELECTED_ID, "data"),
    State(ACCOUNTS_GRID_ID, "filterModel"),
    prevent_initial_call=True,
)
@admin_only
def add_account_to_person(
    clicks: object,
    role: object,
    account_id: object,
    label: object,
    plan_id: object,
    selected: object,
    model: object,
) -> tuple[Any, ...]:
    if not clicked(clicks):
        raise PreventUpdate
    user_id, _ = selection(selected)
    if user_id is None:
        raise PreventUpdate
    kind = Role.admin if role == Role.admin.value else Role.customer
    new = NewAccount(
        kind,
        account_id if isinstance(account_id, str) else "",
        label if isinstance(label, str) else "",
        plan_choice(plan_id) if kind == Role.customer else None,
    )
    try:
        with session_scope() as s:
            added = add_account(s, user_id, new, actor=current_actor(), now=datetime.now(UTC))
    except InvalidInput as exc:
        messages = field_messages(exc.errors, ADD_ACCOUNT_FIELDS)
        general = exc.errors.get("form")
        general_line = failure(general or "Nothing was saved: fix the fields marked above.")
        return (general_line, *messages, no_update, no_update, no_update, no_update)
    text = f"{'Admin' if added.is_admin else 'Customer'} account {added.account_id} added."
    return (
        success(text),
        *([""] * len(ADD_ACCOUNT_FIELDS)),
        "",
        "",
        select(user_id, added.account_id, selected),
        refresh_grid(model),
    )
