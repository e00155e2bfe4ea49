"""The `peftplan` command. Each layer registers its own sub-commands:

    bench ...      benchmarks/cli.py   (runs benchmarks; torch is imported only in the worker subprocesses)
    results ...    benchmarks/cli.py   (reads result files)
    plan ...       planner/plan_cli.py (cost, memory, capacity; pure Python)
    dashboard      dashboards/cli.py   (starts the Streamlit app)
    adapters ...   registry/cli.py     (the adapter registry)

Only the layer of the command that runs is imported: `peftplan plan ...` needs neither the benchmark's
dependencies (torch, transformers, peft) nor the dashboard's (streamlit, plotly).
Bad input (InputError) prints one message and exits with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from core.errors import InputError

# Sub-command -> (module whose `register(subparsers)` adds it, one-line help shown while it is not imported).
COMMANDS = {
    "bench": ("benchmarks.cli", "run benchmarks (each spec in its own process)"),
    "results": ("benchmarks.cli", "read result files"),
    "plan": ("planner.plan_cli", "cost, memory, capacity and accuracy of the planner"),
    "dashboard": ("dashboards.cli", "start the Streamlit dashboard"),
    "adapters": ("registry.cli", "the adapter registry: which adapter, which data, which base, where"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"peftplan: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _command_of(argv: list[str]) -> str | None:
    """The sub-command named on the command line (its first word that is not an option), if any."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The root parser. With `argv`, only the named command's layer is imported (the others appear by name,
    with their help line); without, every layer that is installed registers its commands."""
    parser = _Parser(prog="peftplan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    wanted = _command_of(argv) if argv is not None else None
    modules = {m for n, (m, _) in COMMANDS.items() if argv is None or n == wanted}
    for module in sorted(modules):
        importlib.import_module(module).register(sub)
    for name, (module, text) in COMMANDS.items():
        if module not in modules:
            sub.add_parser(name, help=text)
    return parser


def _no_nul(args: argparse.Namespace) -> None:
    """A NUL byte in an argument is never meant (and no path or name may hold one)."""
    for name, value in vars(args).items():
        if "\x00" in str(value):
            raise InputError("holds a NUL byte", field="--" + name.replace("_", "-"), value=value)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
