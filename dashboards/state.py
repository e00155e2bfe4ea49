"""The scenario of this browser session: one dict (planner.scenario) kept in st.session_state, mirrored into
the URL's query parameters on every run, so a copied link reproduces the page and reloading keeps every input.

Widgets that edit it are bound to one field each (key "scn-<field>"); a reset or an uploaded scenario file
drops those keys so the widgets start again from the scenario.
"""

from __future__ import annotations

import streamlit as st

from core.errors import InputError
from planner import scenario as scenario_mod

KEY = "scenario"
WIDGET_PREFIX = "scn-"


def current() -> dict:
    """The session's scenario: from the link on the first run, else as last edited."""
    if KEY not in st.session_state:
        try:
            st.session_state[KEY] = scenario_mod.from_query(st.query_params.to_dict())
        except InputError as exc:
            st.session_state[KEY] = scenario_mod.default_scenario()
            st.session_state["scenario-error"] = f"The link's scenario was not used: {exc}"
    return st.session_state[KEY]


def save(scn: dict) -> None:
    st.session_state[KEY] = scn
    sync_url()


def sync_url() -> None:
    """The query parameters: exactly the fields that differ from the default scenario."""
    wanted = scenario_mod.to_query(current())
    params = st.query_params.to_dict()
    known = {*scenario_mod.FIELDS, *scenario_mod.LISTS, *scenario_mod.OVERRIDES}
    if {k: v for k, v in params.items() if k in known} != wanted:
        for name in known & params.keys():
            del st.query_params[name]
        st.query_params.update(wanted)


def replace_all(scn: dict) -> None:
    """Make `scn` the scenario and let every bound widget start again from it."""
    for key in [k for k in st.session_state if str(k).startswith(WIDGET_PREFIX)]:
        del st.session_state[key]
    save(scn)


def reset() -> None:
    replace_all(scenario_mod.default_scenario())


def bind(field: str) -> str:
    """The widget key of a scenario field, seeded from the scenario the first time it is drawn."""
    key = WIDGET_PREFIX + field
    if key not in st.session_state:
        st.session_state[key] = current()[field]
    return key


def link_error() -> None:
    message = st.session_state.pop("scenario-error", None)
    if message:
        st.error(message, icon=":material/link_off:")
