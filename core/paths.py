"""Where the shipped data lives (the repository's data/ folder, beside the packages)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
CATALOG_DIR = DATA_DIR / "catalog"
RESULTS_DIR = DATA_DIR / "results"
SUITES_DIR = REPO_ROOT / "benchmarks" / "suites"  # the built-in suites (TOML data, read by core.suite_file)
