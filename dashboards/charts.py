"""Chart helpers: plotly figures with units on both axes, each shown with its basis and a CSV download.

plotly.graph_objects is imported lazily (plotly.express would add half a second to the first page).
"""

from __future__ import annotations

import math
import re

import pandas as pd
import streamlit as st

from dashboards.ui import basis_badge

PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# One colour pair everywhere: measured figures blue, projected orange, catalog prices (managed offers) grey.
# Other series take the palette, which holds neither of the pair.
BASIS_COLOURS = {"measured": "#2E6FBA", "projected": "#E07B39", "catalog": "#7F7F7F", "yours": "#C0392B"}
YOURS_MARK = " ★ yours"
CELL_SHORT = "✗"  # a heatmap cell short of memory by 100 GiB or more
PALETTE = ("#3A9E6F", "#7C5BB5", "#B8475A", "#8C8C3A", "#4A9FB5", "#C28A2E", "#5D6D7E", "#D35DA0")
# Past the palette's colours, series take them again with the next marker (bars: fill pattern), so no two
# series share both; your file's rows keep their series' colour with a star (a hatched bar) of the same lap.
SYMBOLS = ("circle", "square", "diamond", "triangle-up")
YOURS_SYMBOLS = ("star", "star-square", "star-diamond", "star-triangle-up")
PATTERNS = ("", "x", ".", "+")
YOURS_PATTERNS = ("/", "\\", "|", "-")


def _go():
    import plotly.graph_objects as go

    return go


def figure(title: str, x_title: str, y_title: str, basis: str, **layout):
    """An empty figure whose title says whether its figures are measured or projected."""
    go = _go()
    fig = go.Figure()
    fig.update_layout(
        title={"text": f"{title} <span style='font-size:0.8em;color:#777'>({basis})</span>"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend_title_text="",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        colorway=list(PALETTE),
        **layout,
    )
    return fig


def grouped(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    group: str | None,
    title: str,
    x_title: str,
    y_title: str,
    basis: str,
    kind: str = "bar",
    hover: str | dict[str, str] | None = None,
    horizontal: bool = False,
    unit: str = "",
):
    """One trace per value of `group` (bars, lines or markers); `hover` names a column (or label → column)
    shown on hover, `unit` follows the value there. Groups named like a basis (measured, projected, ...) take
    the basis colour. With horizontal=True, `x` holds the values and `y` the categories (bars only)."""
    go = _go()
    fig = figure(title, x_title, y_title, basis, barmode="group")
    parts = [("", data)] if group is None else list(data.groupby(group, sort=True, dropna=False))
    styles: dict[str, tuple[str, int]] = {}
    for name, part in parts:
        label = name[0] if isinstance(name, tuple) else name
        # plain lists: the figure's JSON then holds the figures as written, not base64 arrays
        common = {
            "x": part[x].tolist(),
            "y": part[y].tolist(),
            "name": str(label),
            "showlegend": group is not None,
        }
        value_axis, category_axis = ("x", "y") if horizontal else ("y", "x")
        common.update(hover_fields(part, hover, f"%{{{category_axis}}}<br>%{{{value_axis}:,.4g}} {unit}"))
        mine = str(label).endswith(
            YOURS_MARK
        )  # an uploaded file's rows: a star, a hatched bar, the same colour
        colour, lap = _style(styles, str(label).removesuffix(YOURS_MARK)) if group is not None else (None, 0)
        if kind == "bar":
            pattern = (YOURS_PATTERNS if mine else PATTERNS)[lap % len(PATTERNS)]
            marker = {"color": colour, "pattern": {"shape": pattern}}
            fig.add_trace(go.Bar(orientation="h" if horizontal else "v", marker=marker, **common))
        else:
            mode = "lines+markers" if kind == "line" else "markers"
            symbol = (YOURS_SYMBOLS if mine else SYMBOLS)[lap % len(SYMBOLS)]
            marker = {"size": 13 if mine else 9, "color": colour, "symbol": symbol}
            fig.add_trace(go.Scatter(mode=mode, marker=marker, **common))
    if kind == "bar":  # categories in the data's order, not in the order the traces first use them
        order = list(dict.fromkeys(data[y if horizontal else x].tolist()))
        (fig.update_yaxes if horizontal else fig.update_xaxes)(
            type="category", categoryorder="array", categoryarray=order
        )
    if horizontal:
        fig.update_yaxes(autorange="reversed")  # first row on top
    return fig


def _style(styles: dict[str, tuple[str, int]], series: str) -> tuple[str, int]:
    """A series' colour and lap through the palette (which picks its marker): its basis colour, else the
    next palette colour, a lap more each time the palette is used up (kept for its 'yours' twin)."""
    if series not in styles:
        used = sum(1 for name in styles if name not in BASIS_COLOURS)
        basis = BASIS_COLOURS.get(series)
        styles[series] = (basis, 0) if basis else (PALETTE[used % len(PALETTE)], used // len(PALETTE))
    return styles[series]


def hover_fields(part: pd.DataFrame, hover: str | dict[str, str] | None, head: str) -> dict:
    """customdata and a hovertemplate: `head`, then one 'label: value' line per hover column."""
    if not hover:
        return {"hovertemplate": f"{head}<extra>%{{fullData.name}}</extra>"}
    named = {hover: hover} if isinstance(hover, str) else hover
    named = {label: col for label, col in named.items() if col in part}
    lines = "".join(f"<br>{label}: %{{customdata[{i}]}}" for i, label in enumerate(named))
    data = [[_hover_text(v) for v in row] for row in part[list(named.values())].itertuples(index=False)]
    return {"customdata": data, "hovertemplate": f"{head}{lines}<extra>%{{fullData.name}}</extra>"}


def _hover_text(value) -> str:
    from dashboards.display import cell

    return cell(value, "text")


def basis_scatter(
    data: pd.DataFrame,
    x: str,
    y: str,
    *,
    title: str,
    x_title: str,
    y_title: str,
    hover: dict[str, str],
    units: tuple[str, str] = ("", ""),
):
    """Markers coloured by the `basis` column (measured / projected / catalog), never joined by lines."""
    go = _go()
    fig = figure(title, x_title, y_title, "measured and projected")
    for basis, part in data.groupby("basis", sort=True):
        head = f"%{{x:,.3g}} {units[0]}<br>%{{y:,.3g}} {units[1]}"
        fig.add_trace(
            go.Scatter(
                x=part[x].tolist(),
                y=part[y].tolist(),
                mode="markers",
                name=str(basis),
                marker={"size": 10, "color": BASIS_COLOURS.get(str(basis))},
                error_x=_error_bars(part, x),
                error_y=_error_bars(part, y),
                **hover_fields(part, hover, head),
            )
        )
    return fig


def _error_bars(part: pd.DataFrame, column: str) -> dict | None:
    """Asymmetric error bars from `<column>_plus` and `<column>_minus`, where the frame has them."""
    plus, minus = f"{column}_plus", f"{column}_minus"
    if plus not in part or part[plus].isna().all():
        return None
    return {
        "type": "data",
        "symmetric": False,
        "array": part[plus].fillna(0).tolist(),
        "arrayminus": part[minus].fillna(0).tolist(),
        "thickness": 1,
        "width": 0,
    }


def add_line(fig, x: list, y: list, name: str) -> None:
    """A thin dark line through points already drawn (a front, a fit)."""
    go = _go()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            name=name,
            line={"color": "#333", "width": 2, "dash": "dot"},
            hoverinfo="skip",
        )
    )


def log_axis(fig, axis: str, values, *, usd: bool = False) -> None:
    """A log axis ticked at 1, 2 and 5 of each decade the values span, so an axis over less than a decade
    still gets three or more labels (plotly's decade ticks would give it one); dollars as the app writes
    them with usd=True."""
    from dashboards.display import usd as usd_text

    found = [float(v) for v in values if v is not None and v == v and float(v) > 0]
    ticks: list[float] = []
    if found:
        low, high = min(found), max(found)
        decades = range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
        ticks = [m * 10.0**k for k in decades for m in (1, 2, 5) if low / 2.5 <= m * 10.0**k <= high * 2.5]
    text = [usd_text(t) if usd else f"{t:,g}" for t in ticks]
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(type="log", tickvals=ticks or None, ticktext=text or None)


def short(text: str, limit: int = 44) -> str:
    """A category label cut to `limit` characters (the hover gives it whole)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def show(fig, data: pd.DataFrame, *, key: str, basis: str, note: str = "") -> None:
    """Render a figure, its basis and note, and a download of the data behind it as CSV."""
    st.plotly_chart(fig, key=f"chart-{key}", config=PLOTLY_CONFIG)
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.markdown(f"{basis_badge(basis)} {note}".strip())  # file text in a note comes escaped (ui.plain)
    right.download_button(
        "CSV",
        lambda: data.to_csv(index=False).encode("utf-8"),  # written when clicked, not on every run
        file_name=f"peftplan-{_slug(key)}.csv",
        mime="text/csv",
        key=f"csv-{key}",
        icon=":material/download:",
        on_click="ignore",
        help="Download the data behind this chart as CSV",
    )


def add_limit(fig, x0, x1, y: float, name: str) -> None:
    """A dashed horizontal segment (a gate's limit, a GPU's memory) from x0 to x1."""
    go = _go()
    fig.add_trace(
        go.Scatter(
            x=[x0, x1],
            y=[y, y],
            mode="lines",
            name=name,
            line={"dash": "dash", "width": 1},
            hovertemplate=f"{name}: %{{y:.4g}}<extra></extra>",
        )
    )


def add_markers(fig, x: list, y: list, name: str, color: str = "#111") -> None:
    """Diamond markers over a chart (a measured peak beside a projected stack, a regressed step)."""
    go = _go()
    marker = {"symbol": "diamond", "size": 12, "color": color, "line": {"width": 1, "color": "#fff"}}
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=name, marker=marker))


def fits_heatmap(matrix: pd.DataFrame):
    """GPU × (model, method): memory headroom on one GPU in GiB, red where it does not fit."""
    go = _go()
    rows = matrix.assign(case=matrix["model"] + " · " + matrix["method"])
    if rows["seq_len"].nunique() > 1:
        rows["case"] = rows["case"] + " · " + rows["seq_len"].astype(str)
    cases = list(dict.fromkeys(rows["case"]))
    gpus = list(dict.fromkeys(rows["gpu"]))
    cell = rows.set_index(["case", "gpu"])

    def grid(column: str) -> list[list]:
        return [[cell.loc[(c, g), column] for g in gpus] for c in cases]

    basis = (
        "measured where a row exists, else projected" if (rows["basis"] == "measured").any() else "projected"
    )
    fig = figure("Memory headroom on one GPU", "GPU", "model · method", basis)
    # colour: headroom as a share of the GPU's memory, clipped to ±100 % so a 70B model short by 500 GiB does
    # not wash out the cells that matter; the text gives the GiB
    share = [[max(-1.0, min(1.0, float(v))) for v in line] for line in grid("headroom_frac")]
    headroom = grid("headroom_gib")
    fig.add_trace(
        go.Heatmap(
            z=share,
            x=gpus,
            y=cases,
            customdata=[
                [[cfg, gib] for cfg, gib in zip(*pair, strict=True)]
                for pair in zip(grid("config"), headroom, strict=True)
            ],
            # at most three characters a cell, so the numbers stay apart on an 800-px screen; a shortfall of
            # 100 GiB or more is a cross (the hover gives the figure)
            text=[[CELL_SHORT if v <= -100 else f"{v:.0f}" for v in line] for line in headroom],
            texttemplate="%{text}",
            textfont={"size": 10},
            zmid=0,
            zmin=-1,
            zmax=1,
            colorscale="RdYlGn",
            colorbar={"title": {"text": "headroom", "side": "right"}, "tickformat": ".0%", "thickness": 12},
            hovertemplate="%{y} on %{x}<br>headroom %{customdata[1]:.1f} GiB<br>%{customdata[0]}"
            "<extra></extra>",
        )
    )
    fig.update_layout(height=120 + 34 * len(cases))
    fig.update_yaxes(autorange="reversed")
    return fig
