"""peftplan's Streamlit dashboard: thin pages over the result store and the planner.

`peftplan dashboard` (dashboards/cli.py) starts it; the results folder reaches the app through the
environment variable named by RESULTS_ENV, so tests can point the app at their own rows.
"""

RESULTS_ENV = "PEFTPLAN_RESULTS_DIR"
