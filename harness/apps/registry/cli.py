"""The registry's subcommands of ``tflm-hil model`` (composed with the pipeline's steps by
harness/apps/model_cli.py).

    register MODEL.tflite   add a model (with the files beside it) to the registry
    validate CANDIDATE      run the HIL suite on a board and link its run to the model
    promote CANDIDATE       validate, compare with the promoted model, promote or refuse
    rollback                restore the last good model (a real board is reflashed)
    list | show | card      what the registry holds
    backup | restore        the whole registry as one hash-verified archive
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate

from ...boards.catalog import BoardKind, resolve_board
from ...errors import EXIT_INFRA
from .store import ModelEntry, Registry
from .validate import DEFAULT_TIMEOUT_S, ValidationRun

DEFAULT_BOARD = "sim:nano33"
EXIT_REFUSED = 1


def _registry_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", type=Path,
                   help="registry folder [$TFLM_HIL_REGISTRY or .tflm-hil/registry]")


def _board_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", default=DEFAULT_BOARD, help="catalog board id [%(default)s]")
    p.add_argument("--hil-db", help="results store [$TFLM_HIL_DB or .tflm-hil/results.sqlite]")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="seconds the HIL suite may take; then it is stopped as an "
                   "infrastructure failure [%(default)g]")


def add_registry_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("register", help="add a .tflite (and the files beside it) to the registry")
    s.add_argument("model", type=Path)
    s.add_argument("--reference", type=Path, help="float model (.h5, .keras or float .tflite)")
    s.add_argument("--vectors", type=Path, help="test vectors (.npz)")
    s.add_argument("--preprocess", type=Path, help="preprocessing record (.preprocess.json)")
    _registry_opt(s)

    for name, text in (("validate", "run the HIL suite on a board for a registered model"),
                       ("promote", "validate, gate and promote a model on a board")):
        s = sub.add_parser(name, help=text)
        s.add_argument("candidate", help="a .tflite file or a registered model's hash prefix")
        _board_opts(s)
        s.add_argument("--rules", type=Path, help="gates and thresholds TOML (overrides defaults)")
        _registry_opt(s)

    s = sub.add_parser("rollback", help="restore the last good model on a board")
    _board_opts(s)
    s.add_argument("--reason", default="manual rollback", help="recorded in the activity log")
    s.add_argument("--validate", action="store_true",
                   help="also run the HIL suite on a simulated board (a real one always is)")
    _registry_opt(s)

    s = sub.add_parser("list", help="registered models and what each board runs")
    _registry_opt(s)
    s = sub.add_parser("show", help="one model's registry entry")
    s.add_argument("candidate")
    _registry_opt(s)
    s = sub.add_parser("card", help="print (or write) a model's card")
    s.add_argument("candidate")
    s.add_argument("--board", default=DEFAULT_BOARD)
    s.add_argument("--output", type=Path, help="write the card here instead of printing it")
    _registry_opt(s)
    s = sub.add_parser("backup", help="archive the whole registry (.tar.gz + .sha256)")
    s.add_argument("--output", type=Path, required=True)
    _registry_opt(s)
    s = sub.add_parser("restore", help="restore the registry from a backup archive")
    s.add_argument("--input", type=Path, required=True)
    s.add_argument("--sha256", help="the archive's expected sha256 (default: its .sha256 file)")
    _registry_opt(s)


def candidate_entry(registry: Registry, ref: str) -> ModelEntry:
    """A registered model; a .tflite path not yet registered is registered first."""
    p = Path(ref)
    if p.suffix == ".tflite" and p.is_file():
        return registry.register_from_files(p)
    return registry.get(ref)


def run_registry_command(args: argparse.Namespace) -> int:
    registry = Registry.open(args.registry)
    handler = {"register": _register, "validate": _validate, "promote": _promote,
               "rollback": _rollback, "list": _list, "show": _show, "card": _card,
               "backup": _backup, "restore": _restore}[args.command]
    return handler(registry, args)


def _register(registry: Registry, args: argparse.Namespace) -> int:
    entry = registry.register_from_files(args.model, reference=args.reference,
                                         vectors=args.vectors, preprocess=args.preprocess)
    print(f"registered {entry.short} ({', '.join(sorted(entry.files))}) in {registry.root}")
    return 0


def _not_passed_status(val: ValidationRun) -> int:
    """A rig failure stays 6 (the model was not judged); any other failure refuses (1)."""
    return EXIT_INFRA if val.exit_status == EXIT_INFRA else EXIT_REFUSED


def _validated(registry: Registry, args: argparse.Namespace) -> tuple[ModelEntry, ValidationRun]:
    from .promote import record_validation, validation_summary
    from .validate import db_path, run_suite

    resolve_board(args.board)  # an unknown board is refused before anything runs
    entry = candidate_entry(registry, args.candidate)
    print(f"validating {entry.short} on {args.board} (the HIL suite; this takes a while)")
    val = run_suite(registry, entry, args.board, db_path(args.hil_db), args.timeout)
    record_validation(registry, entry, val)
    print("\n".join(validation_summary(val)))
    return entry, val


def _validate(registry: Registry, args: argparse.Namespace) -> int:
    _, val = _validated(registry, args)
    return 0 if val.passed else _not_passed_status(val)


def _promote(registry: Registry, args: argparse.Namespace) -> int:
    from .promote import promote
    from .rules import load_rules

    rules = load_rules(args.rules)  # a bad rules file is refused before the suite runs
    resolve_board(args.board)
    candidate = candidate_entry(registry, args.candidate)
    if registry.state()["boards"].get(args.board, {}).get("promoted") == candidate.sha256:
        # nothing to decide: running the suite only to refuse would make a re-run fail
        print(f"up to date: {candidate.short} is already the promoted model on {args.board}")
        return 0
    entry, val = _validated(registry, args)
    decision, previous = promote(registry, entry, val, rules)
    against = f"promoted model {previous.short}" if previous else "no promoted model yet"
    same = [c for c in decision.changes if not c.changed]
    for c in decision.changes:
        if c.changed and not c.regressed:
            print(f"  {c.describe()}")
    if same:
        print(f"  {len(same)} compared figure(s) unchanged: {', '.join(c.name for c in same)}")
    for line in decision.not_measured:
        print(f"  not applied: {line}")
    if decision.promote:
        print(f"PROMOTED {entry.short} on {args.board} (compared with {against}); deployed to "
              f"{registry.root / 'deployed'}")
        return 0
    print(f"REFUSED {entry.short} on {args.board} (compared with {against}):")
    for reason in decision.reasons:
        print(f"  - {reason}")
    return _not_passed_status(val)


def _rollback(registry: Registry, args: argparse.Namespace) -> int:
    from .promote import apply_rollback, rollback_target, validation_summary, verify_deployed
    from .validate import db_path, run_suite

    _, kind = resolve_board(args.board)
    current, target, record = rollback_target(registry, args.board)
    print(f"rolling back {args.board}: {current.short} -> {target.short} (last good)")
    if kind is BoardKind.REAL or args.validate:
        # On a board this is the reflash: the HIL flow builds and flashes the restored model.
        val = run_suite(registry, target, args.board, db_path(args.hil_db), args.timeout)
        print("\n".join(validation_summary(val)))
        if not val.passed:
            print(f"rollback NOT applied: {target.short} did not pass on {args.board}; "
                  f"{current.short} stays promoted (see {val.log})")
            return _not_passed_status(val)
    dest = apply_rollback(registry, args.board, current, target, record, args.reason)
    files = verify_deployed(registry, args.board)
    print(f"restored {target.short} into {dest}; hashes checked:")
    for name, sha in sorted(files.items()):
        print(f"  {sha}  {name}")
    return 0


def _list(registry: Registry, args: argparse.Namespace) -> int:
    boards = registry.state().get("boards", {})
    promoted = {b["promoted"]: board for board, b in boards.items() if b.get("promoted")}
    entries = registry.entries()
    if not entries:
        print(f"the registry {registry.root} is empty")
        return 0
    rows = []
    for e in entries:
        acc = e.conversion.get("host_metrics", {})
        rows.append([
            e.short,
            e.files["model"].bytes,
            len(e.validations),
            ", ".join(f"{k} {v:g}" for k, v in acc.items() if isinstance(v, float)),
            promoted.get(e.sha256, ""),
        ])
    headers = ["model", "bytes", "validations", "host figures", "promoted on"]
    print(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True))
    return 0


def _show(registry: Registry, args: argparse.Namespace) -> int:
    import json

    print(json.dumps(registry.get(args.candidate).to_dict(), indent=2, sort_keys=True))
    return 0


def _card(registry: Registry, args: argparse.Namespace) -> int:
    from ... import atomic
    from .card import card_for

    resolve_board(args.board)
    text = card_for(registry, registry.get(args.candidate), args.board)
    if args.output:
        atomic.write_text(args.output, text)
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def _backup(registry: Registry, args: argparse.Namespace) -> int:
    from .archive import backup

    n, digest = backup(registry, args.output)
    print(f"backed up {n} files of {registry.root} to {args.output} (sha256 {digest})")
    return 0


def _restore(registry: Registry, args: argparse.Namespace) -> int:
    from .archive import restore

    kept = restore(args.input, registry.root, expected_sha256=args.sha256)
    print(f"restored {registry.root} from {args.input}; every file verified"
          + (f"; the replaced registry is kept in {kept}" if kept else ""))
    return 0
