"""The scenario's controls (Cost page): every assumption the verdict depends on, each widget bound to one
field of the session's scenario (dashboards.state) and starting from the catalog's values; a note of what was
changed, a reset, and the scenario as a downloadable and uploadable JSON file (validated as data)."""

from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.vocab import ALLOCATORS, METHODS, PROFILES
from dashboards import state, ui
from planner import scenario as scenario_mod
from planner.config import parse_tokens

SEQ_LENS = [256, 512, 1024, 2048, 4096, 8192, 16384]
RANKS = [4, 8, 16, 32, 64, 128, 256]
BATCHES = [1, 2, 4, 8, 16, 32]
SHORT_METHODS = {**ui.METHOD_NAMES, "full": "Full"}  # fits the control at 800 px
FACTORS = (
    "gpu_price_factor",
    "managed_price_factor",
    "throughput_factor",
    "onprem_capex_factor",
    "power_price_factor",
)


def tokens_text(tokens: int) -> str:
    """100000000 → '100M' (the text the tokens box starts from)."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if tokens >= size and tokens % (size / 100) == 0:
            return f"{tokens / size:g}{unit}"
    return str(tokens)


def _with(options: list, value) -> list:
    return options if value in options else sorted([*options, value])


def job_controls(scn: dict, models: list[str]) -> None:
    """Model, method, tokens, epochs, runs per month; GPUs, pricing kinds, utilisation."""
    first, second = st.columns([1, 1]), st.columns([1.2, 1, 1])
    top = [*first, *second]
    scn["model"] = top[0].selectbox("Model", _with(models, scn["model"]), key=state.bind("model"))
    scn["method"] = (
        top[1].segmented_control(
            "Method", list(METHODS), key=state.bind("method"), format_func=SHORT_METHODS.get
        )
        or scn["method"]
    )
    key = state.WIDGET_PREFIX + "tokens-text"
    st.session_state.setdefault(key, tokens_text(scn["tokens"]))
    text = top[2].text_input("Tokens per epoch", key=key, help="e.g. 250k, 100M, 1.5B")
    scn["tokens"] = parse_tokens(text, "tokens per epoch")
    scn["epochs"] = top[3].number_input("Epochs", 0.01, 100.0, step=0.5, key=state.bind("epochs"))
    scn["runs_per_month"] = top[4].number_input(
        "Runs per month", 0.0, 10000.0, step=1.0, key=state.bind("runs_per_month")
    )
    mid = [*st.columns([1, 1]), *st.columns([1, 1])]
    scn["gpus"] = mid[0].multiselect("GPUs", _gpu_names(), key=state.bind("gpus"), placeholder="all GPUs")
    scn["kinds"] = mid[1].multiselect(
        "Pricing kinds",
        list(scenario_mod.KINDS),
        key=state.bind("kinds"),
        placeholder="all kinds",
        help="Self-hosted and on-prem options; managed offers are always priced.",
    )
    scn["utilisation"] = mid[2].slider(
        "Utilisation of billed GPU-hours",
        0.05,
        1.0,
        step=0.05,
        key=state.bind("utilisation"),
        help="Share of paid hours spent in training steps.",
    )
    scn["ops_usd_per_month"] = ops_control(mid[3], scn)


def ops_control(col, scn: dict) -> float | None:
    """Engineering cost of self-hosted cloud jobs, starting from the catalog's (None while it is that)."""
    from dashboards import loaders
    from planner.cost import cloud_ops_usd_per_month

    catalog_value = float(cloud_ops_usd_per_month(_catalog_with_defaults(scn, loaders.catalog())))
    key = state.WIDGET_PREFIX + "ops_usd_per_month"
    st.session_state.setdefault(
        key, float(catalog_value if scn["ops_usd_per_month"] is None else scn["ops_usd_per_month"])
    )
    value = col.number_input(
        "Engineering cost of cloud jobs (USD per month)",
        0.0,
        1e8,
        step=500.0,
        key=key,
        help=f"Images, launch scripts, monitoring, failed runs; added to every self-hosted cloud "
        f"option. Catalog: {catalog_value:,.0f} (defaults.csv: engineers × cost per engineer-year).",
    )
    return None if abs(value - catalog_value) < 0.005 else float(value)


def _catalog_with_defaults(scn: dict, catalog):
    from dataclasses import replace

    defaults = {n: replace(d, value=scn["defaults"].get(n, d.value)) for n, d in catalog.defaults.items()}
    return replace(catalog, defaults=defaults)


def defaults_controls(scn: dict, catalog) -> None:
    """Every operating assumption of data/catalog/defaults.csv (people, spot preemption), from its value."""
    overrides = dict(scn["defaults"])
    rows = list(catalog.defaults.values())
    cols = st.columns(max(1, min(len(rows), 4)))
    for i, default in enumerate(rows):
        key = f"{state.WIDGET_PREFIX}defaults-{default.name}"
        st.session_state.setdefault(key, float(overrides.get(default.name, default.value)))
        value = cols[i % len(cols)].number_input(
            f"{default.name.replace('_', ' ')} ({default.unit})",
            0.0,
            1e9,
            key=key,
            format="%.4g",
            help=f"catalog: {default.value:g}; {default.source}",
        )
        if abs(value - default.value) > 1e-12:
            overrides[default.name] = float(value)
        else:
            overrides.pop(default.name, None)
    scn["defaults"] = overrides


def _gpu_names() -> list[str]:
    from dashboards import loaders

    return list(loaders.catalog().gpus)


def config_controls(scn: dict) -> None:
    cfg = [*st.columns(4), *st.columns(4)[:2]]  # two rows: at 800 px six pickers in one would break labels
    scn["rank"] = cfg[0].selectbox("LoRA rank", _with(RANKS, scn["rank"]), key=state.bind("rank"))
    scn["seq_len"] = cfg[1].selectbox(
        "Sequence length", _with(SEQ_LENS, scn["seq_len"]), key=state.bind("seq_len")
    )
    scn["micro_batch"] = cfg[2].selectbox(
        "Micro-batch", _with(BATCHES, scn["micro_batch"]), key=state.bind("micro_batch")
    )
    scn["profile"] = cfg[3].selectbox("Profile", list(PROFILES), key=state.bind("profile"))
    scn["allocator"] = cfg[4].selectbox(
        "CUDA allocator",
        list(ALLOCATORS),
        key=state.bind("allocator"),
        help="expandable: PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (reserves less beyond what it uses)",
    )
    scn["managed_scope"] = cfg[5].selectbox(
        "Managed offers",
        ["all", "same-model"],
        key=state.bind("managed_scope"),
        help="same-model: only offers that tune this open model",
    )


def cost_controls(scn: dict) -> None:
    """The scaling factors the planner applies (prices, throughput, server and power prices)."""
    spec = scenario_mod.FIELDS
    cols = st.columns(len(FACTORS))
    for col, name in zip(cols, FACTORS, strict=True):
        label = spec[name][3]
        scn[name] = col.number_input(
            label[0].upper() + label[1:], 0.01, 100.0, step=0.05, key=state.bind(name)
        )


def _override(scn: dict, field: str, pick: str, catalog_value: float, label: str, step: float) -> None:
    current = scn[field].get(pick, catalog_value)
    key = f"{state.WIDGET_PREFIX}{field}-{pick}"
    st.session_state.setdefault(key, float(current))
    value = st.number_input(
        f"{label} (catalog: {catalog_value:g})", 0.0, 1e5, step=step, key=key, format="%.4g"
    )
    overrides = dict(scn[field])
    if abs(value - catalog_value) > 1e-12:
        overrides[pick] = float(value)
    else:
        overrides.pop(pick, None)
    scn[field] = overrides


def price_controls(scn: dict, catalog, suggest: str | None) -> None:
    """Change any GPU price or managed price of the catalog (one at a time; every change is listed above)."""
    prices = {scenario_mod.price_key(p): p.usd_per_gpu_hour for p in catalog.prices}
    names = sorted(prices)
    left, right = st.columns(2)
    with left:
        index = names.index(suggest) if suggest in names else 0
        pick = st.selectbox("GPU price to change", names, index=index, key="price-pick")
        _override(scn, "prices", pick, prices[pick], "USD per GPU-hour", 0.05)
    offers = {o.label: o.usd_per_1m_training_tokens for o in catalog.managed if o.usd_per_1m_training_tokens}
    with right:
        pick = st.selectbox("Managed price to change", sorted(offers), key="managed-pick")
        _override(scn, "managed", pick, offers[pick], "USD per 1M training tokens", 0.1)


def onprem_controls(scn: dict, catalog) -> None:
    """On-prem assumptions for every site, starting from the catalog's (first site's) values."""
    sites = list(catalog.onprem.values())
    if not sites:
        st.info("The catalog has no on-prem sites.")
        return
    first = sites[0]
    labels = {
        "years": "Depreciation (years)",
        "usd_per_kwh": "Power (USD per kWh)",
        "pue": "PUE",
        "utilisation": "Utilisation of the hardware",
        "colo_usd_per_kw_month": "Colocation (USD per kW-month)",
        "support_frac_per_year": "Support contract (share of price a year)",
        "setup_usd_per_unit": "Set-up (USD per unit)",
        "people_fte": "People (engineers per site)",
    }
    labels = {k: v for k, v in labels.items() if hasattr(first, k)}
    cols = [*st.columns(4), *st.columns(4)]
    overrides = dict(scn["onprem"])
    for col, (name, label) in zip(cols, labels.items(), strict=False):  # 8 places, as many assumptions
        catalog_value = float(getattr(first, name))
        key = f"{state.WIDGET_PREFIX}onprem-{name}"
        st.session_state.setdefault(key, float(overrides.get(name, catalog_value)))
        value = col.number_input(label, 0.0, 1e6, key=key, format="%.4g", help=f"catalog: {catalog_value:g}")
        if abs(value - catalog_value) > 1e-12:
            overrides[name] = float(value)
        else:
            overrides.pop(name, None)
    scn["onprem"] = overrides


def file_controls(scn: dict) -> None:
    """What changed, a reset, and the scenario as a file."""
    changed = scenario_mod.changes(scn)
    if changed:
        st.markdown(f"**Changed from the catalog and defaults ({len(changed)}):**")
        st.text("\n".join(changed))
    else:
        st.caption("Every assumption is the catalog's or the default scenario's.")
    mid, right, _ = st.columns([1, 2, 1], vertical_alignment="center")
    mid.button(
        "Reset",
        on_click=state.reset,
        icon=":material/restart_alt:",
        disabled=not changed,
        key="scenario-reset",
    )
    right.download_button(
        "Download scenario",
        scenario_mod.to_json(scn).encode("utf-8"),
        file_name="peftplan-scenario.json",
        mime="application/json",
        key="scenario-download",
        icon=":material/download:",
    )
    upload = st.file_uploader(
        "Open a scenario file (JSON, as downloaded)", type=["json"], key="scenario-upload"
    )
    if upload is not None and st.session_state.get("scenario-upload-id") != upload.file_id:
        st.session_state["scenario-upload-id"] = upload.file_id
        try:
            loaded = scenario_mod.from_json(upload.getvalue(), upload.name)
        except InputError as exc:
            st.error(f"This scenario file was not used: {exc}", icon=":material/error:")
        else:
            state.replace_all(loaded)
            st.rerun()
