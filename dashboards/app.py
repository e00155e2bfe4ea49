"""peftplan dashboard: should we fine-tune with LoRA/QLoRA on our own GPUs or pay a managed API?

Started by `peftplan dashboard`; `streamlit run dashboards/app.py` works too. Each page is a thin script in
views/, over the result store (dashboards/loaders.py) and the planner. (The folder is not named `pages`:
Streamlit would treat a `pages` folder beside the entry script as its legacy page list.)
"""

from __future__ import annotations

import streamlit as st

from dashboards import launch, loaders, state, ui

launch.run_pending()  # under `peftplan dashboard`: what was put off at start (the plotly theme among it)

# An emoji page icon: Streamlit draws it in place, where a Material icon (the pages' own, by default) is
# fetched from fonts.gstatic.com, and the app makes no outside call. A narrow sidebar (220 px) leaves an
# 800-px window 550 px of page.
st.set_page_config(page_title="peftplan", page_icon="🎛️", layout="wide", initial_sidebar_state=220)
ui.page_style()

PAGES = {
    "Plan": [
        st.Page("views/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("views/cost.py", title="Cost", icon=":material/payments:"),
        st.Page("views/capacity.py", title="Capacity", icon=":material/dns:"),
        st.Page("views/claims.py", title="Claims", icon=":material/fact_check:"),
    ],
    "Measurements": [
        st.Page("views/training.py", title="Training", icon=":material/model_training:"),
        st.Page("views/inference.py", title="Inference", icon=":material/bolt:"),
        st.Page("views/regressions.py", title="Regressions", icon=":material/timeline:"),
    ],
    "Registry": [
        st.Page("views/adapters.py", title="Adapters", icon=":material/extension:"),
    ],
    "Sources": [
        st.Page("views/data.py", title="Data", icon=":material/table:"),
    ],
}

page = st.navigation(PAGES)
ui.load_chart_code_early()
st.sidebar.caption(f"Results: `{ui.short_path(loaders.results_path())}`")
try:
    with ui.guard():
        state.current()
        page.run()
        state.sync_url()  # the link reproduces the page: the scenario's changes are its query parameters
finally:
    launch.first_run_done()  # under `peftplan dashboard`: the work put off until now (the component scan)
