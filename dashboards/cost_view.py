"""Views of a priced training scenario (dashboards.plans.training), shared by the Overview and Cost pages:
the verdict, the monthly-cost chart, the break-even curves and the sensitivity tornado. Figures come from
the planner as they are; nothing here prices anything."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, ui


def show_verdict(plan: dict) -> bool:
    """The verdict line and three headline figures; False when one side has no priced option."""
    best_self, best_managed, saving = plan["best_self"], plan["best_managed"], plan["saving"]
    if best_self is None or best_managed is None:
        side = "self-hosted or on-prem" if best_self is None else "managed"
        st.warning(f"No {side} option is priced for this scenario (see the skipped options below).")
        return False
    self_name = ui.plain(f"{best_self.provider} {best_self.option}")  # catalog text, shown as text
    managed_name = ui.plain(f"{best_managed.provider} {best_managed.option}")
    if saving > 0:
        st.success(f"**Self-host.** {self_name} costs {ui.usd(best_self.usd_total)} "
                   f"a month, {ui.usd(saving)} less than {managed_name} "
                   f"({ui.usd(best_managed.usd_total)}).", icon=":material/check_circle:")  # fmt: skip
    else:
        st.warning(f"**Use the managed API.** {managed_name} costs "
                   f"{ui.usd(best_managed.usd_total)} a month, {ui.usd(-saving)} less than the cheapest "
                   f"self-hosted option ({self_name}).", icon=":material/cloud:")  # fmt: skip
    cols = st.columns(3)
    cols[0].metric("Cheapest self-hosted, per month", ui.usd(best_self.usd_total))
    cols[0].markdown(f"{ui.basis_badge(best_self.basis)} {self_name}, "
                     f"{best_self.gpu} × {best_self.n_gpus:g}; price as of {best_self.as_of}")  # fmt: skip
    cols[1].metric("Cheapest managed, per month", ui.usd(best_managed.usd_total))
    cols[1].markdown(f"{ui.basis_badge('catalog price')} {managed_name}; "
                     f"price as of {best_managed.as_of}")  # fmt: skip
    cols[2].metric("Saving of self-hosting, per month", ui.usd(saving))
    return True


def show_cost_chart(options: pd.DataFrame, *, runs: float, key: str, self_basis: str) -> None:
    """Monthly cost per option (log axis: managed prices span orders of magnitude), cheapest on top."""
    shown = options.sort_values("usd_total").assign(label=options["provider"] + " · " + options["option"])
    fig = charts.grouped(shown, "usd_total", "label", group="kind", horizontal=True, hover="as_of",
                         title=f"Monthly cost of {runs:g} runs", x_title="USD per month (log scale)",
                         y_title="option", basis=f"self-hosted {self_basis}; managed at catalog prices")  # fmt: skip
    fig.update_layout(height=160 + 26 * len(shown))
    fig.update_xaxes(type="log", tickprefix="$")
    cols = ["provider", "option", "kind", "usd_total", "usd_per_run", "gpu", "n_gpus", "tokens_per_s", "basis",
            "as_of", "source", "match", "status"]  # fmt: skip
    charts.show(fig, shown[[c for c in cols if c in shown]], key=key, basis="mixed",
                note=f"{ui.as_of_note(shown)}; hover a bar for its date")  # fmt: skip


def show_curves(curves: pd.DataFrame, runs: float, *, key: str) -> None:
    """Monthly cost against runs per month: where the lines cross is the break-even."""
    fig = charts.grouped(curves, "runs_per_month", "usd_per_month", group="option", kind="line", hover="kind",
                         title="Break-even: monthly cost against runs per month", x_title="runs per month",
                         y_title="USD per month (log scale)", basis="self-hosted projected or measured; managed at catalog prices")  # fmt: skip
    fig.add_vline(x=runs, line_dash="dot", line_color="#888", annotation_text=f"{runs:g} runs")
    fig.update_traces(mode="lines")
    managed = set(curves.loc[curves["kind"] == "managed", "option"])
    fig.for_each_trace(lambda t: t.update(line_dash="dash") if t.name in managed else None)
    fig.update_yaxes(type="log", tickprefix="$")  # managed prices span orders of magnitude
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, height=560)
    charts.show(fig, curves, key=key, basis="mixed",
                note="dashed: managed APIs; steps: a new reserved block or on-prem server set")  # fmt: skip


def show_tornado(frame: pd.DataFrame, *, key: str) -> None:
    """Sensitivity: the monthly saving of self-hosting when each input moves by ±25 %."""
    import plotly.graph_objects as go

    base = float(frame["base_saving_usd"].iloc[0])
    fig = charts.figure("Sensitivity of the monthly saving to each input (±25 %)",
                        "saving of self-hosting over managed (USD per month)", "input", "projected")  # fmt: skip
    for column, name, color in (
        ("saving_low_usd", "input −25 %", "#B8475A"),
        ("saving_high_usd", "input +25 %", "#3A9E6F"),
    ):
        fig.add_trace(go.Bar(y=frame["input"].tolist(), x=(frame[column] - base).tolist(), base=base,
                             orientation="h", name=name, marker_color=color,
                             customdata=frame[column].tolist(),
                             hovertemplate="%{y}: saving %{customdata:$,.0f}<extra>%{fullData.name}</extra>"))  # fmt: skip
    fig.add_vline(x=base, line_color="#333", annotation_text=f"base {ui.usd(base)}")
    fig.add_vline(x=0, line_dash="dot", line_color="#888", annotation_text="break-even")
    fig.update_layout(barmode="overlay", height=140 + 40 * len(frame))
    fig.update_yaxes(autorange="reversed", type="category")
    charts.show(
        fig, frame, key=key, basis="projected", note="left of the dotted line, the managed API is cheaper"
    )


def show_break_even(table: pd.DataFrame, kinds: tuple[str, ...] = ("self-hosted", "on-prem")) -> None:
    """Break-even of the cheapest self-hosted (and on-prem) option against each managed offer."""
    if table.empty:
        st.info("No break-even to show: a self-hosted and a managed option are both needed.")
        return
    table = table[table["self_kind"].isin(kinds)]
    cols = ["managed_option", "break_even_runs_per_month", "verdict", "self_option", "self_usd_total",
            "managed_usd_total", "self_basis", "self_as_of", "managed_as_of", "match", "status"]  # fmt: skip
    money = st.column_config.NumberColumn(format="dollar")
    st.dataframe(table[cols], hide_index=True, column_config={
        "break_even_runs_per_month": st.column_config.NumberColumn("break-even (runs/month)", format="%.2f"),
        "self_usd_total": money, "managed_usd_total": money})  # fmt: skip


def onprem_table(catalog) -> pd.DataFrame:
    """The catalog's on-prem assumptions, one row per GPU, with source and date."""
    from dataclasses import asdict

    return pd.DataFrame([asdict(site) for site in catalog.onprem.values()])
