"""The shipped catalogs load and say where each figure came from; every kind of bad cell is refused with a
message naming file, line, field and value."""

from __future__ import annotations

import pytest
from test_planner_fixtures import copy_catalog

from core.errors import InputError
from planner.catalog import catalog_frame, gpu_of_device, load_catalog, resolve_gpu


def test_shipped_catalog_loads_with_source_and_date_on_every_row():
    cat = load_catalog()
    assert {"H100 SXM", "H100 PCIe", "H200", "A100 80GB", "A100 40GB", "L40S", "L4", "A10G"} <= set(cat.gpus)
    rows = [*cat.gpus.values(), *cat.prices, *cat.managed, *cat.onprem.values(), *cat.defaults.values()]
    assert all(r.source and r.as_of for r in rows)
    for which in ("gpus", "gpu_prices", "managed", "onprem", "defaults"):
        frame = catalog_frame(cat, which)
        assert not frame.empty and {"source", "as_of"} <= set(frame.columns)


def test_openai_offers_are_legacy_and_unconfirmed_figures_say_so():
    cat = load_catalog()
    openai = [o for o in cat.managed if o.provider == "OpenAI"]
    assert openai and all(o.status == "legacy" for o in openai)
    bedrock = [o for o in cat.managed if o.provider == "AWS Bedrock"]
    assert bedrock and all("unconfirmed" in o.source and o.status == "unconfirmed" for o in bedrock)
    # a price whose source says unconfirmed has that status, and only then
    for row in [*cat.prices, *cat.managed, *cat.onprem.values(), *cat.defaults.values()]:
        assert ("unconfirmed" in row.source) == (row.status == "unconfirmed"), row


def test_catalog_review_fixes():
    cat = load_catalog()
    azure = next(o for o in cat.managed if o.provider == "Azure OpenAI")
    assert azure.status == "example" and "example purposes only" in azure.source
    runpod = next(p for p in cat.prices if p.provider == "RunPod" and p.gpu == "L40S")
    assert runpod.usd_per_gpu_hour == 0.86 and "pod" in runpod.instance
    together70 = next(o for o in cat.managed if o.provider == "Together AI" and o.offer == "SFT LoRA 70-100B")
    assert together70.hosting_usd_per_hour == 2 * 3.36 and together70.multi_lora
    fireworks = [o for o in cat.managed if o.provider == "Fireworks AI"]
    assert fireworks and all("date it was read" in o.source for o in fireworks)
    cmi = next(o for o in cat.managed if o.method == "import")
    assert cmi.provider == "AWS Bedrock" and cmi.hosting_usd_per_hour == pytest.approx(2 * 0.05718 * 60)
    # on-prem in units one can buy: SXM parts as 8-GPU servers, PCIe cards one at a time, never a silent 0
    assert cat.onprem["H200"].unit_gpus == cat.onprem["H100 SXM"].unit_gpus == 8
    assert cat.onprem["L40S"].unit_gpus == 1 and cat.onprem["L40S"].unit_usd >= 7_500
    for site in cat.onprem.values():
        assert site.people_fte > 0 and site.setup_usd_per_unit > 0 and site.support_frac_per_year > 0
    assert all(d.value > 0 for d in cat.defaults.values())


@pytest.mark.parametrize(
    ("device_name", "expected"),
    [
        ("NVIDIA H200", "H200"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("nvidia l40s", "L40S"),
        ("cpu", None),
        ("", None),
        ("Some Future GPU", None),
    ],
)
def test_device_names_map_to_catalog_gpus(device_name, expected):
    assert gpu_of_device(device_name, load_catalog().gpus) == expected


def test_resolve_gpu_accepts_aliases_and_names_what_is_accepted():
    gpus = load_catalog().gpus
    assert resolve_gpu("h200", gpus).name == resolve_gpu("H200", gpus).name == "H200"
    with pytest.raises(InputError, match="unknown GPU.*'h300'.*accepted: .*H200"):
        resolve_gpu("h300", gpus)


def _edit(tmp_path, name: str, old: str, new: str):
    d = copy_catalog(tmp_path / "cat")
    path = d / name
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))
    return d


CASES = [
    # (file, text to replace, replacement, pattern the message must match)
    (
        "gpus.csv",
        "H200,h200;h200-sxm;NVIDIA H200,141,139.81",
        "H200,h200;h200-sxm;NVIDIA H200,141,-1",
        r"gpus.csv, row 4, field 'memory_gib': bad value \(got '-1'\); accepted: a positive number",
    ),
    ("gpus.csv", ",989,4.8,700,", ",lots,4.8,700,", r"row 4, field 'bf16_tflops'.*'lots'"),
    (
        "gpus.csv",
        "A10,a10;NVIDIA A10,",
        "A10,h200;NVIDIA A10,",
        r"field 'aliases': duplicate entry \(got 'h200'\)",
    ),
    ("gpus.csv", ",2026-11-29\nH100 PCIe", ",29/11/2026\nH100 PCIe", r"row 2, field 'as_of'.*YYYY-MM-DD"),
    ("gpus.csv", "name,aliases,", "name,alias,", r"row 1, field 'aliases': missing column"),
    ("gpus.csv", ",source,as_of\n", ",source,as_of,extra\n", r"field 'extra': unknown column"),
    (
        "gpu_prices.csv",
        "AWS,H200,us-east-1",
        "AWS,H300,us-east-1",
        r"gpu_prices.csv, row 3, field 'gpu': unknown GPU",
    ),
    ("gpu_prices.csv", "on-demand,,6.88,", "on-demand,,0,", r"row 2, field 'usd_per_gpu_hour'.*positive"),
    ("gpu_prices.csv", "on-demand,,6.88,", "on-demand,,-6.88,", r"field 'usd_per_gpu_hour'.*'-6.88'"),
    (
        "gpu_prices.csv",
        "us-east-1,on-demand,,6.88",
        "us-east-1,hourly,,6.88",
        r"field 'pricing_kind'.*on-demand, spot, reserved",
    ),
    (
        "gpu_prices.csv",
        "2.20,8,168,",
        "2.20,8,0,",
        r"field 'min_commit_hours': a reserved price needs its commitment",
    ),
    ("gpu_prices.csv", "6.88,8,0,", "6.88,0,0,", r"field 'gpus_per_instance'.*positive integer"),
    ("gpu_prices.csv", "p5.48xlarge,", "p5.48xlarge,,", r"gpu_prices.csv, row 2: more cells than columns"),
    (
        "managed.csv",
        "sft,25.00,,,3.00",
        "sft,,,,3.00",
        r"managed.csv, row 2, field 'usd_per_1m_training_tokens': no training price",
    ),
    (
        "managed.csv",
        ",,true,0,16,lora,0.48",
        ",,true,,16,lora,0.48",
        r"field 'max_params_b': an open-model offer needs its size bracket",
    ),
    (
        "managed.csv",
        ",,true,0,16,lora,0.48",
        ",,true,16,16,lora,0.48",
        r"field 'max_params_b': empty size bracket",
    ),
    (
        "managed.csv",
        "gpt-4.1 fine-tuning,gpt-4.1,false",
        "gpt-4.1 fine-tuning,,false",
        r"field 'managed_model': a proprietary offer must name its model",
    ),
    (
        "managed.csv",
        "gpt-4.1 fine-tuning,gpt-4.1,false",
        "gpt-4.1 fine-tuning,gpt-4.1,maybe",
        r"field 'open_weights'.*true or false",
    ),
    (
        "managed.csv",
        ",false,legacy,",
        ",false,retired,",
        r"field 'status'.*current, legacy, unconfirmed, example",
    ),
    (
        "gpu_prices.csv",
        "p5.48xlarge,current,",
        "p5.48xlarge,maybe,",
        r"gpu_prices.csv, row 2, field 'status'",
    ),
    ("managed.csv", ",3.36,,true,current,", ",3.36,,yes,current,", r"field 'multi_lora'.*true or false"),
    (
        "managed.csv",
        ",,,,,6.8616,1.95,false,",
        ",,,,,,1.95,false,",
        r"field 'hosting_usd_per_hour': an import offer needs its hosting price",
    ),
    ("defaults.csv", "cloud_ops_fte,0.1,", "cloud_ops_fte,-0.1,", r"defaults.csv, row 3, field 'value'"),
    ("defaults.csv", "cloud_ops_fte,0.1,", "cloud_ops,0.1,", r"defaults.csv, row 3, field 'name'"),
    (
        "onprem.csv",
        "8-GPU HGX server,8,400000",
        "8-GPU HGX server,0,400000",
        r"field 'unit_gpus'.*positive integer",
    ),
    ("managed.csv", "sft,25.00,", "sft,-25.00,", r"field 'usd_per_1m_training_tokens'.*>= 0"),
    ("managed.csv", "lora,0.48,", "qlora,0.48,", r"field 'method'.*lora, full, sft, dpo, rft, import"),
    (
        "managed.csv",
        "OpenAI,gpt-4.1-mini fine-tuning",
        "OpenAI,gpt-4.1 fine-tuning",
        r"row 3, field 'offer': duplicate entry",
    ),
    (
        "onprem.csv",
        "400000,4,0.09,1.58,0.7",
        "400000,4,0.09,0.9,0.7",
        r"onprem.csv, row 3, field 'pue'.*>= 1",
    ),
    (
        "onprem.csv",
        "400000,4,0.09,1.58,0.7",
        "400000,4,0.09,1.58,1.5",
        r"field 'utilisation'.*\(0, 1\]",
    ),
    ("onprem.csv", "H200,8-GPU", "H999,8-GPU", r"onprem.csv, row 3, field 'gpu': unknown GPU"),
    ("onprem.csv", "H200,8-GPU", "H100 SXM,8-GPU", r"onprem.csv, row 3, field 'gpu': duplicate entry"),
]


@pytest.mark.parametrize(("name", "old", "new", "pattern"), CASES)
def test_every_bad_cell_is_refused_with_file_line_field_and_value(tmp_path, name, old, new, pattern):
    d = _edit(tmp_path, name, old, new)
    with pytest.raises(InputError, match=pattern):
        load_catalog(d)


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="catalog folder not found"):
        load_catalog(tmp_path / "nowhere")
    d = copy_catalog(tmp_path / "cat")
    (d / "onprem.csv").unlink()
    with pytest.raises(InputError, match=r"onprem.csv: catalog file not found"):
        load_catalog(d)
    d = copy_catalog(tmp_path / "cat2")
    path = d / "defaults.csv"
    path.write_text("".join(line for line in path.read_text().splitlines(True) if "spot_restart" not in line))
    with pytest.raises(
        InputError, match=r"defaults.csv.*missing operating assumption.*spot_restart_lost_hours"
    ):
        load_catalog(d)


def test_an_edited_file_is_reloaded(tmp_path):
    d = copy_catalog(tmp_path / "cat")
    before = load_catalog(d)
    path = d / "gpu_prices.csv"
    path.write_text(
        path.read_text().replace("AWS,H200,us-east-1,on-demand,,7.912", "AWS,H200,us-east-1,on-demand,,9.5")
    )
    after = load_catalog(d)
    price = next(p for p in after.prices if p.provider == "AWS" and p.gpu == "H200")
    assert after is not before and price.usd_per_gpu_hour == 9.5
