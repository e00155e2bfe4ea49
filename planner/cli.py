"""The `peftplan` command. Each package registers its own sub-commands:

    bench ...      benchmarks/cli.py   (runs benchmarks; torch is imported only in the worker subprocesses)
    results ...    benchmarks/cli.py   (reads result files)
    plan ...       planner/plan_cli.py (cost, memory, capacity; pure Python)
    dashboard      dashboards/cli.py   (starts the Streamlit app)

Bad input (InputError) prints one message and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from planner.errors import InputError

# (module, function) pairs that add sub-commands; imported lazily so `peftplan plan` stays light.
REGISTRARS = (
    ("benchmarks.cli", "register"),
    ("planner.plan_cli", "register"),
    ("dashboards.cli", "register"),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"peftplan: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="peftplan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module, func in REGISTRARS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        getattr(mod, func)(sub)
    return parser


def _no_nul(args: argparse.Namespace) -> None:
    """A NUL byte in an argument is never meant (and no path or name may hold one)."""
    for name, value in vars(args).items():
        if "\x00" in str(value):
            raise InputError("holds a NUL byte", field="--" + name.replace("_", "-"), value=value)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _no_nul(args)
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"peftplan: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("peftplan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
