"""Dashboard pages: each file is a page script that dashboards/app.py (st.navigation) runs."""
