"""`peftplan adapters register|list|show|deploy|retire|check`: the adapter registry from the command line.

Every input is read and checked before the registry is opened, so bad input (exit 2) writes nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import warnings

from registry.store import MODES, STATUSES

REGISTRY_HELP = "registry: a SQLite file or a postgresql:// URL (default $PEFTPLAN_REGISTRY, else a file in the user's data folder)"


def register(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="PATH|URL", help=REGISTRY_HELP)
    adapters = sub.add_parser(
        "adapters", help="the adapter registry: which adapter, which data, which base, where"
    )
    cmds = adapters.add_subparsers(dest="adapters_command", required=True, parser_class=type(adapters))

    _register_parser(cmds, common)
    lst = cmds.add_parser("list", parents=[common], help="the registered adapters as a table")
    lst.add_argument("--base", help="base model name or fingerprint digest prefix")
    lst.add_argument("--deployment", help="deployment name")
    lst.add_argument("--data", help="part of the data's path or name, or its sha256 prefix")
    lst.add_argument("--status", choices=STATUSES)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    show = cmds.add_parser("show", parents=[common], help="everything recorded about one adapter")
    show.add_argument("adapter", help="id or weights-hash prefix")
    show.set_defaults(func=cmd_show)

    dep = cmds.add_parser("deploy", parents=[common], help="record an adapter in a deployment (base checked)")
    dep.add_argument("adapter", help="id or weights-hash prefix")
    dep.add_argument("--name", required=True, help="deployment name")
    dep.add_argument(
        "--base", required=True, help="the deployment's base: a folder, fingerprint file or catalog name"
    )
    dep.add_argument("--mode", choices=MODES, required=True)
    dep.add_argument("--allow-mismatch", action="store_true", help="deploy on another base anyway (warns)")
    dep.set_defaults(func=cmd_deploy)

    ret = cmds.add_parser("retire", parents=[common], help="retire an adapter (it leaves its deployments)")
    ret.add_argument("adapter", help="id or weights-hash prefix")
    ret.set_defaults(func=cmd_retire)

    chk = cmds.add_parser("check", parents=[common], help="exit 2 unless the adapter was saved for BASE")
    chk.add_argument("adapter", help="id or weights-hash prefix")
    chk.add_argument("--base", required=True, help="a base folder, fingerprint file or catalog model name")
    chk.add_argument("--allow-mismatch", action="store_true", help="warn instead of failing")
    chk.set_defaults(func=cmd_check)


def _register_parser(cmds, common) -> None:
    reg = cmds.add_parser(
        "register", parents=[common], help="record a peft adapter folder (safetensors only)"
    )
    reg.add_argument("path", help="the adapter folder (adapter_config.json and *.safetensors)")
    reg.add_argument("--data", required=True, help="training data: a local file or folder, or NAME@REVISION")
    reg.add_argument("--base", help="a local base folder to fingerprint when the adapter records no base")
    reg.add_argument("--deployment", help="also deploy it under this name, on the base it was saved for")
    reg.add_argument("--mode", choices=MODES, default="dynamic", help="serving mode of --deployment")
    reg.add_argument("--training", help="a result row or `plan train --json` output describing its training")
    reg.add_argument("--note")
    reg.add_argument("--json", action="store_true")
    reg.set_defaults(func=cmd_register)


def _open(args, create: bool = False):
    from registry.db import open_registry

    return open_registry(args.registry, create=create)


def _database_errors(command):
    """A database failure after the registry opened (a lock held past the busy timeout, a dropped
    connection) is one message, never a traceback."""

    @functools.wraps(command)
    def run(args) -> int:
        from sqlalchemy import exc

        from registry.db import database_error, default_location

        try:
            return command(args)
        except exc.DBAPIError as err:
            raise database_error(err, args.registry or default_location()) from None

    return run


def _warned(func, *args, **kwargs):
    """Run func, printing its warnings as one line each (no source line)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    for w in caught:
        print(f"peftplan: warning: {w.message}", file=sys.stderr)
    return result


@_database_errors
def cmd_register(args) -> int:
    from core.errors import InputError
    from registry import sources, store
    from registry.fingerprint import check_base
    from registry.folder import read_adapter

    adapter = read_adapter(args.path)
    data = sources.data_fingerprint(args.data)
    training, cost = sources.training_record(args.training) if args.training else (None, None)
    base_fp = adapter.base_fingerprint
    if args.base:
        given = sources.resolve_base(args.base, adapter.base_model)
        if base_fp is not None:  # recorded beside the adapter: --base must agree
            check_base(base_fp, given, where=args.path)
        base_fp = base_fp or given
    if args.deployment and base_fp is None:
        raise InputError(
            "cannot deploy an adapter with no known base",
            field="--deployment",
            value=args.deployment,
            accepted="--base FOLDER (the base it was trained on), or register without --deployment",
        )
    engine = _open(args, create=True)
    entry, created = store.register(
        engine, adapter, data, base_fingerprint=base_fp, note=args.note, training=training, cost=cost
    )
    if args.deployment:
        entry = store.deploy(engine, str(entry["id"]), args.deployment, base_fp, args.mode)
    if args.json:
        print(json.dumps(entry, indent=2, default=str))
    else:
        verb = "registered" if created else "already registered (same weights)"
        print(f"{verb}: adapter {entry['id']} ({entry['weights_sha256'][:12]}), base {entry['base_model']}")
    return 0


@_database_errors
def cmd_list(args) -> int:
    from core.errors import InputError
    from registry import store
    from registry.tables import table

    try:
        engine = _open(args)
    except InputError as err:
        if "no registry here yet" not in str(err):
            raise
        rows = []
    else:
        rows = store.entries(
            engine, base=args.base, deployment=args.deployment, data=args.data, status=args.status
        )
    print(json.dumps(rows, indent=2, default=str) if args.json else table(rows))
    return 0


@_database_errors
def cmd_show(args) -> int:
    from registry import store

    print(json.dumps(store.get(_open(args), args.adapter), indent=2, default=str))
    return 0


@_database_errors
def cmd_deploy(args) -> int:
    from registry import sources, store

    base_fp = sources.resolve_base(args.base)
    entry = _warned(
        store.deploy,
        _open(args),
        args.adapter,
        args.name,
        base_fp,
        args.mode,
        allow_mismatch=args.allow_mismatch,
    )
    print(f"deployed: adapter {entry['id']} in '{args.name}' ({args.mode}) on {base_fp.get('model')}")
    return 0


@_database_errors
def cmd_retire(args) -> int:
    from registry import store

    entry, left = store.retire(_open(args), args.adapter)
    print(f"retired: adapter {entry['id']}" + (f"; removed from {', '.join(left)}" if left else ""))
    return 0


@_database_errors
def cmd_check(args) -> int:
    from registry import sources, store
    from registry.fingerprint import describe

    base_fp = sources.resolve_base(args.base)
    entry = store.get(_open(args), args.adapter)
    if _warned(store.check, entry, base_fp, allow_mismatch=args.allow_mismatch):
        print(f"ok: adapter {entry['id']} was saved for {describe(base_fp)}")
    return 0
