"""Bad input: one clear message naming what was wrong and what is accepted, exit code 2, no traceback,
nothing written."""

from __future__ import annotations

import os

import pytest

from peftplan.cli import main

BASE = ["bench", "train", "--device", "cpu", "--seq-len", "32", "--micro-batch", "2"]


def _run(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize(
    "extra, needles",
    [
        (["--model", "llama-9b", "--method", "lora"], ["model", "llama-9b", "llama-3.1-8b"]),
        (["--model", "tiny-llama", "--method", "dora"], ["method", "dora", "lora, qlora, full"]),
        (
            ["--model", "tiny-llama", "--method", "lora", "--targets", "q_proj,attn"],
            ["targets", "attn", "q_proj"],
        ),
        (["--model", "tiny-llama", "--method", "lora", "--rank", "0"], ["rank", "0", "from 1 to"]),
        (["--model", "tiny-llama", "--method", "lora", "--seq-len", "4096"], ["seq_len", "4096", "512"]),
    ],
)
def test_bad_spec_flags(tmp_path, capsys, extra, needles):
    out = tmp_path / "rows.jsonl"
    code, err = _run(capsys, BASE + extra + ["--out", str(out)])
    assert code == 2
    assert "Traceback" not in err and err.count("\n") == 1
    for needle in needles:
        assert needle in err
    assert not out.exists()


@pytest.mark.parametrize(
    "text, needles",
    [
        ("[[train]\nname = 1", ["not valid TOML"]),
        (
            '[[train]]\nname = "a"\nmodel = "tiny-llama"\nmethod = "lora"\nrnak = 4\n',
            ["unknown field", "rnak", "rank"],
        ),
        ('[[train]]\nmodel = "tiny-llama"\nmethod = "lora"\n', ["name"]),
        (
            '[[train]]\nname = "a"\nmodel = "tiny-llama"\nmethod = "lora"\nseq_len = 32\nrank = "8"\n',
            ["rank", "'8'"],
        ),
        ('[[trian]]\nname = "a"\n', ["unknown table", "trian"]),
        (
            '[[train]]\nname = "a"\nmodel = "tiny-llama"\nmethod = "lora"\nseq_len = 32\ntimeout_s = -1\n',
            ["timeout_s"],
        ),
    ],
)
def test_malformed_suite_file(tmp_path, capsys, text, needles):
    suite, out = tmp_path / "bad.toml", tmp_path / "rows.jsonl"
    suite.write_text(text)
    code, err = _run(capsys, ["bench", "train", "--suite", str(suite), "--out", str(out)])
    assert code == 2 and "Traceback" not in err
    assert str(suite) in err
    for needle in needles:
        assert needle in err
    assert not out.exists()


def test_unknown_suite_name_lists_the_built_in_ones(capsys):
    code, err = _run(capsys, ["bench", "train", "--suite", "nope"])
    assert code == 2 and "cpu-smoke" in err and "h200-standard" in err


def test_output_under_a_file_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = _run(
        capsys, BASE + ["--model", "tiny-llama", "--method", "lora", "--out", str(blocker / "r.jsonl")]
    )
    assert code == 2 and "Traceback" not in err and "output" in err and str(blocker) in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_unwritable_output_folder(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, err = _run(
            capsys, BASE + ["--model", "tiny-llama", "--method", "lora", "--out", str(locked / "r.jsonl")]
        )
    finally:
        locked.chmod(0o700)
    assert code == 2 and "Traceback" not in err and "not writable" in err
    assert not (locked / "r.jsonl").exists()


def test_bad_cli_argument_type(capsys):
    with pytest.raises(SystemExit) as exc:
        main(BASE + ["--model", "tiny-llama", "--method", "lora", "--rank", "eight"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--rank" in err and "eight" in err and "Traceback" not in err


def test_results_show_skips_the_bad_lines_and_names_them(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"schema_version": 1}\nnot json\n')
    code, err = _run(capsys, ["results", "show", str(bad)])
    assert code == 0 and "Traceback" not in err
    assert (
        f"{bad}, line 1" in err
        and "missing field" in err
        and f"{bad}, line 2" in err
        and "not valid JSON" in err
    )
