"""Views of a priced training scenario (dashboards.plans.training), shared by the Overview and Cost pages:
the verdict, the monthly-cost chart, the break-even curves and the sensitivity tornado. Figures come from
the planner as they are; nothing here prices anything."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, ui
from dashboards.display import usd

# The planner's flags (planner.cost.TrainOption.flags, planner.catalog.ManagedOffer.flags) in a reader's words.
FLAG_TEXT = {
    "spot": "spot: can be interrupted",
    "unconfirmed": "price unconfirmed",
    "legacy": "legacy: closed to new users",
    "example": "example price, not a quote",
    "different model": "a different model",
    "tight memory": "tight memory: little headroom",
}


def flags(option) -> list[str]:
    """What a reader must know before acting on an option, as the planner flagged it (a TrainOption's tuple
    or a frame row's comma-joined text)."""
    given = getattr(option, "flags", None) or ()
    names = given.split(", ") if isinstance(given, str) else given
    return [FLAG_TEXT.get(name, name) for name in names if name]


def config_text(option) -> str:
    """'micro-batch 1, checkpointing, 1 GPU': the configuration the planner priced."""
    cfg = getattr(option, "config", None) or {}
    if not cfg:
        return ""
    parts = (
        [f"micro-batch {cfg['micro_batch']} × {cfg.get('seq_len', '?')} tokens"]
        if "micro_batch" in cfg
        else []
    )
    if cfg.get("grad_checkpointing"):
        parts.append("activation checkpointing")
    if (cfg.get("num_gpus") or 1) > 1:
        parts.append(f"{cfg['num_gpus']} GPUs ({cfg.get('sharding') or 'data-parallel'})")
    return ", ".join(parts)


def _facts(option, runs: float) -> str:
    """Hours per run, whether the month's runs fit, configuration and flags of one option, as one line."""
    from planner.scenario import month_fit

    bits = []
    if option.job_hours is not None:
        bits.append(f"{option.job_hours:,.1f} h per run")
        hours, fits = month_fit(option.job_hours, runs, option.runs_capacity)
        if fits is not None:
            bits.append(
                f"the month's {runs:g} runs {'fit' if fits else 'do NOT fit'} ({hours:,.0f} h of work)"
            )
    cfg = config_text(option)
    if cfg:
        bits.append(f"configuration used: {cfg}")
    found = flags(option)
    if found:
        bits.append("⚠ " + "; ".join(found))
    return " · ".join(bits)


def _name(option) -> str:
    """An option's provider and name from the catalog, escaped for the Markdown of an alert."""
    return ui.plain(f"{option.provider} {option.option}")


def show_verdict(plan: dict, scn: dict | None = None) -> bool:
    """The verdict, what it rests on (configuration, hours per run, fit in the month, flags) and three figures;
    False when one side has no priced option."""
    best_self, best_managed, saving = plan["best_self"], plan["best_managed"], plan["saving"]
    if best_self is None or best_managed is None:
        side = "self-hosted or on-prem" if best_self is None else "managed"
        st.warning(f"No {side} option is priced for this scenario (see the options not priced below).")
        return False
    runs = plan["comparison"].scenario.runs_per_month
    if saving > 0:
        st.success(
            f"**Self-host.** {_name(best_self)} costs {usd(best_self.usd_total)} "
            f"a month, {usd(saving)} less than {_name(best_managed)} "
            f"({usd(best_managed.usd_total)}).",
            icon=":material/check_circle:",
        )
    else:
        st.warning(
            f"**Use the managed API.** {_name(best_managed)} costs "
            f"{usd(best_managed.usd_total)} a month, {usd(-saving)} less than the cheapest "
            f"self-hosted option ({_name(best_self)}).",
            icon=":material/cloud:",
        )
    cols = st.columns(3)
    cols[0].metric("Self-hosted, per month", usd(best_self.usd_total))
    cols[0].markdown(
        f"{ui.basis_badge(best_self.basis)} price as of {best_self.as_of}"
    )  # a date the catalog validated
    cols[0].text(
        f"{best_self.provider} {best_self.option}, {best_self.gpu} × {best_self.n_gpus:g}\n"
        + _facts(best_self, runs).replace(" · ", "\n")
    )
    cols[1].metric("Managed, per month", usd(best_managed.usd_total))
    cols[1].markdown(f"{ui.basis_badge('catalog')} price as of {best_managed.as_of}")
    cols[1].text(
        f"{best_managed.provider} {best_managed.option}\n" + _facts(best_managed, runs).replace(" · ", "\n")
    )
    cols[2].metric("Saving per month", usd(saving))
    return True


def show_pareto(options: pd.DataFrame, *, runs: float, key: str) -> None:
    """Dollars per run (all in: the month's cost over its runs) against hours per run for every option with a
    run time; the front joined."""
    from dashboards import plans
    from planner.scenario import all_in_usd_per_run, band, pareto_front

    timed = options.assign(usd_per_run=[all_in_usd_per_run(t, runs) for t in options["usd_total"]])
    timed = timed.dropna(subset=["job_hours", "usd_per_run"]).copy()
    if timed.empty:
        st.info("No option has a run time to plot.")
        return
    timed["front"] = pareto_front(list(zip(timed["job_hours"], timed["usd_per_run"], strict=True)))
    error = plans.throughput_error()
    if (
        error
    ):  # projected points: the band of the planner's median error of tokens/s (out of sample where committed)
        for col in ("job_hours", "usd_per_run"):
            bands = [band(v, error["median"]) for v in timed[col]]
            projected = timed["basis"] == "projected"
            timed[f"{col}_plus"] = [
                hi - v if p else None for (lo, hi), v, p in zip(bands, timed[col], projected, strict=True)
            ]
            timed[f"{col}_minus"] = [
                v - lo if p else None for (lo, hi), v, p in zip(bands, timed[col], projected, strict=True)
            ]
    timed["label"] = timed["provider"] + " · " + timed["option"]
    fig = charts.basis_scatter(
        timed,
        "job_hours",
        "usd_per_run",
        title="Cost against time per run",
        x_title="hours per run (log scale)",
        y_title="USD per run, all in (log scale)",
        hover={"option": "label", "configuration": "config"},
        units=("h", "$"),
    )
    front = timed[timed["front"]].sort_values("job_hours")
    charts.add_line(fig, front["job_hours"].tolist(), front["usd_per_run"].tolist(), "Pareto front")
    charts.log_axis(fig, "x", timed["job_hours"])
    charts.log_axis(fig, "y", timed["usd_per_run"], usd=True)
    note = (
        f"USD per run: the month's cost over its {runs:g} runs (reserved blocks and owned servers included). "
        "On the line: no option is both cheaper and faster. Managed APIs publish no run time."
    )
    if error:
        note += (
            f" Bars on projected points: ±{error['median']:.0%}, the planner's median {error.get('kind', 'leave-one-out')} "
            f"error of tokens/s ({error['n']} measured rows; worst {error['worst']:.0%})."
        )
    charts.show(
        fig,
        timed[["provider", "option", "job_hours", "usd_per_run", "basis", "front", "config"]],
        key=key,
        basis="mixed",
        note=note,
    )


def option_frame(options: pd.DataFrame) -> pd.DataFrame:
    """The planner's options with a display basis (managed: catalog), their flags and a label."""
    shown = options.copy()
    shown["shown_basis"] = shown["basis"].where(shown["kind"] != "managed", "catalog")
    shown["flags"] = [", ".join(flags(o)) for o in shown.itertuples(index=False)]
    shown["name"] = shown["provider"] + " · " + shown["option"]
    shown["label"] = shown["name"].map(charts.short) + shown["flags"].map(lambda f: " ⚠" if f else "")
    return shown


def show_cost_chart(options: pd.DataFrame, *, runs: float, key: str, self_basis: str) -> None:
    """Monthly cost per option (log axis: managed prices span orders of magnitude), cheapest on top; colour
    says how the figure was obtained (measured, projected throughput, catalog price)."""
    shown = option_frame(options).sort_values("usd_total")
    hover = {
        "option": "name",
        "kind": "kind",
        "hours per run": "job_hours",
        "configuration": "config",
        "flags": "flags",
        "price as of": "as_of",
    }
    fig = charts.grouped(
        shown,
        "usd_total",
        "label",
        group="shown_basis",
        horizontal=True,
        hover=hover,
        title=f"Monthly cost of {runs:g} runs",
        x_title="USD per month (log scale)",
        unit="USD",
        y_title="option",
        basis=f"self-hosted {self_basis}; managed at catalog prices",
    )
    fig.update_layout(height=160 + 26 * len(shown))
    charts.log_axis(fig, "x", shown["usd_total"], usd=True)
    cols = [
        "provider",
        "option",
        "kind",
        "usd_total",
        "usd_per_run",
        "gpu",
        "n_gpus",
        "tokens_per_s",
        "job_hours",
        "basis",
        "as_of",
        "source",
        "match",
        "status",
        "flags",
        "config",
    ]
    charts.show(
        fig,
        shown[[c for c in cols if c in shown]],
        key=key,
        basis="mixed",
        note=f"{ui.as_of_note(shown)}; ⚠ marks a flag (hover a bar)",
    )


OPTION_COLUMNS = [
    "rank",
    "provider",
    "option",
    "kind",
    "usd_total",
    "usd_per_run",
    "job_hours",
    "flags",
    "config",
    "gpu",
    "n_gpus",
    "tokens_per_s",
    "basis",
    "peak_allocated_gib",
    "as_of",
    "source",
]


def show_unranked(comparison) -> None:
    """Options priced but not ranked with the rest: other models, and runs set aside (with the reason)."""
    from dashboards.display import display

    frame = comparison.frame("all")
    if frame.empty or "group" not in frame:
        return
    for group, title in (("other model", "Other models (not like for like)"), ("set aside", "Set aside")):
        part = frame[frame["group"] == group]
        if not part.empty:
            with ui.lazy_expander(f"{title}: {len(part)} options", f"open-{group}") as shown:
                if shown:
                    cols = ["set_aside", *OPTION_COLUMNS] if group == "set aside" else OPTION_COLUMNS
                    table = display(option_frame(part), cols, rename={"set_aside": "why set aside"})
                    st.dataframe(table, hide_index=True)


def show_options_table(options: pd.DataFrame) -> None:
    from dashboards.display import display

    st.dataframe(display(option_frame(options), OPTION_COLUMNS), hide_index=True)


def show_curves(curves: pd.DataFrame, runs: float, *, key: str) -> None:
    """Monthly cost against runs per month: where the lines cross is the break-even."""
    fig = charts.grouped(
        curves,
        "runs_per_month",
        "usd_per_month",
        group="option",
        kind="line",
        hover="kind",
        title="Break-even: monthly cost against runs per month",
        x_title="runs per month",
        y_title="USD per month (log scale)",
        basis="self-hosted projected or measured; managed at catalog prices",
    )
    fig.add_vline(x=runs, line_dash="dot", line_color="#888", annotation_text=f"{runs:g} runs")
    fig.update_traces(mode="lines")
    managed = set(curves.loc[curves["kind"] == "managed", "option"])
    fig.for_each_trace(lambda t: t.update(line_dash="dash") if t.name in managed else None)
    fig.update_yaxes(type="log", tickprefix="$")  # managed prices span orders of magnitude
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, height=560)
    charts.show(
        fig,
        curves,
        key=key,
        basis="mixed",
        note="dashed: managed APIs; steps: a new reserved block or on-prem server set",
    )


def show_tornado(frame: pd.DataFrame, *, key: str) -> None:
    """Sensitivity: the monthly saving of self-hosting when each input moves by ±25 %."""
    import plotly.graph_objects as go

    base = float(frame["base_saving_usd"].iloc[0])
    fig = charts.figure(
        "Sensitivity of the monthly saving to each input (±25 %)",
        "saving of self-hosting over managed (USD per month)",
        "input",
        "projected",
    )
    for column, name, color in (
        ("saving_low_usd", "input −25 %", "#B8475A"),
        ("saving_high_usd", "input +25 %", "#3A9E6F"),
    ):
        fig.add_trace(
            go.Bar(
                y=frame["input"].tolist(),
                x=(frame[column] - base).tolist(),
                base=base,
                orientation="h",
                name=name,
                marker_color=color,
                customdata=frame[column].tolist(),
                hovertemplate="%{y}: saving %{customdata:$,.0f}<extra>%{fullData.name}</extra>",
            )
        )
    fig.add_vline(x=base, line_color="#333", annotation_text=f"base {usd(base)}")
    fig.add_vline(x=0, line_dash="dot", line_color="#888", annotation_text="break-even")
    fig.update_layout(barmode="overlay", height=140 + 40 * len(frame))
    fig.update_yaxes(autorange="reversed", type="category")
    charts.show(
        fig, frame, key=key, basis="projected", note="left of the dotted line, the managed API is cheaper"
    )


BREAK_EVEN_COLUMNS = [
    "managed_option",
    "verdict",
    "break_even_runs_per_month",
    "self_option",
    "self_usd_total",
    "managed_usd_total",
    "self_basis",
    "self_as_of",
    "managed_as_of",
    "match",
    "status",
]


def show_break_even(
    table: pd.DataFrame,
    kinds: tuple[str, ...] = ("self-hosted", "on-prem"),
    columns: list[str] = BREAK_EVEN_COLUMNS,
    *,
    grid: bool = True,
) -> None:
    """Break-even of the cheapest self-hosted (and on-prem) option against each managed offer; as a
    sortable grid, or with grid=False as a text table."""
    if table.empty:
        st.info("No break-even to show: a self-hosted and a managed option are both needed.")
        return
    table = table[table["self_kind"].isin(kinds)]
    from dashboards.display import display

    shown = display(table, columns)
    if grid:
        st.dataframe(shown, hide_index=True)
    else:
        ui.text_table(shown)


def onprem_table(catalog) -> pd.DataFrame:
    """The catalog's on-prem assumptions, one row per GPU, with source and date."""
    from dataclasses import asdict

    return pd.DataFrame([asdict(site) for site in catalog.onprem.values()])
