"""`python -m bnviz runs ...` and store-recorded `train`: the run store from a terminal.

Runs trained here land in the same store as the dashboard's, so they show up there.
Every id typed by a user is validated before it reaches the store (bad id: exit 2).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bnviz.config import ExperimentConfig
from bnviz.record import is_script
from bnviz.states import is_active
from bnviz.store import RunNotFound, RunStore


class _UserError(ValueError):
    """Printed by cli.main as one line, exit code 2."""


def add_commands(subparsers) -> None:
    runs = subparsers.add_parser("runs", help="list, show, export and delete stored runs")
    runs.set_defaults(handler=lambda args: _usage(runs))
    sub = runs.add_subparsers(metavar="ACTION")

    p = sub.add_parser("list", help="one line per stored run, newest first")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--owner", help="only runs of this owner label")
    p.add_argument("--status", help="only runs in this status (succeeded, running, ...)")
    p.add_argument("--limit", type=int, default=200, help="at most this many rows (default 200)")
    p.set_defaults(handler=_guard(cmd_list))

    p = sub.add_parser("show", help="what a run was and what it reached")
    p.add_argument("run_id", metavar="ID")
    p.set_defaults(handler=_guard(cmd_show))

    p = sub.add_parser("export", help="write a run as its JSON record, a per-epoch CSV table or TensorBoard "
                                      "event files")
    p.add_argument("run_id", metavar="ID")
    p.add_argument("--format", choices=("json", "csv", "tensorboard"), default="json")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output (tensorboard: a "
                                                 "directory, required; the run goes to DIR/<name>_<id>/)")
    p.set_defaults(handler=_guard(cmd_export))

    p = sub.add_parser("delete", help="remove a run and its saved model")
    p.add_argument("run_id", metavar="ID")
    p.add_argument("--force", action="store_true", help="also delete a run that is queued or training")
    p.set_defaults(handler=_guard(cmd_delete))

    p = sub.add_parser("rename", help="give a run a name (and notes)")
    p.add_argument("run_id", metavar="ID")
    p.add_argument("name")
    p.add_argument("--notes")
    p.set_defaults(handler=_guard(cmd_rename))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Store problems become one-line user errors instead of tracebacks."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except RunNotFound as exc:
            raise _UserError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise _UserError(f"cannot read the run store: {exc}") from None

    return run


# --- runs ... ------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    with RunStore() as store:
        rows = store.list_runs(owner=args.owner, status=args.status, limit=max(1, args.limit))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no runs in {store.location}")
        return 0
    header = ("ID", "STATUS", "EPOCHS", "ACC", "VAL_ACC", "TEST_ACC", "TIME", "CREATED", "MODEL", "NAME")
    lines = [header]
    for r in rows:
        model = f"{r['dataset']}/{r['family']}/{r['placement']}/{r['activation']}"
        lines.append((r["id"], r["status"], f"{r['epochs_completed']}/{r['epochs']}", _num(r["accuracy"]),
                      _num(r["val_accuracy"]), _num(r["test_accuracy"]),
                      f"{r['wall_time_s']:.1f}s" if r["wall_time_s"] is not None else "-",
                      (r["created"] or "")[:19].replace("T", " "), model, r["name"]))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip())
    return 0


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"


def _model_line(cfg: dict[str, Any]) -> str:
    m = cfg["model"]
    if is_script(cfg):  # a script's own model (bnviz.watch): its name and normalization layers
        norms = ", ".join(n["name"] for n in m["norm"].get("layers") or []) or "none"
        return f"{m['name']} ({m['class']}, from a script) normalization={norms}"
    return f"{m['family']} hidden={m['hidden']} activation={m['activation']} norm={m['norm']['placement']}"


def cmd_show(args: argparse.Namespace) -> int:
    with RunStore() as store:
        record = store.get_record(args.run_id)
        model = store.model_path(args.run_id)
    cfg, summary = record["config"], record["summary"] or {}
    t = cfg["training"]
    final = summary.get("final") or {}
    fields = [
        ("id", record["id"]), ("name", record["name"] or "-"), ("status", record["status"]),
        ("owner", record["owner"] or "-"), ("created", record["created"]), ("updated", record["updated"]),
        ("origin", record.get("origin") or "config"),
        ("dataset", cfg["dataset"]["name"]),
        ("model", _model_line(cfg)),
        ("training", f"{t['optimizer']} lr={t['learning_rate']} batch={t['batch_size']} "
                     f"epochs={t['epochs']}"),
        ("fingerprint", "-" if is_script(record) else ExperimentConfig.from_dict(cfg).fingerprint()),
        ("epochs done", len(next(iter(record["history"].values()), []))),
        ("probes", len(record["probes"])), ("device", summary.get("device") or "-"),
        ("backend", t.get("backend", "tensorflow")),
        ("wall time", f"{summary['wall_time_s']:.1f}s" if summary.get("wall_time_s") is not None else "-"),
        ("final", " ".join(f"{k}={v:.4f}" for k, v in final.items() if isinstance(v, float)) or "-"),
        ("model file", str(model) if model else "-"),
    ]
    if summary.get("diverged_at"):
        fields.append(("diverged at", summary["diverged_at"]))
    if summary.get("error"):
        fields.append(("error", summary["error"]))
    if record["notes"]:
        fields.append(("notes", record["notes"]))
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key + ':':<{width + 1}} {value}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "tensorboard":
        return _export_tensorboard(args)
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.exists():
        raise _UserError(f"cannot write {out}: directory {out.parent} does not exist")
    with RunStore() as store:
        if args.format == "json":  # whoever runs the CLI operates the server: they see who started it
            from bnviz.jobs.recorded import CLI_OWNER

            text = store.export_json(args.run_id, viewer=CLI_OWNER, is_admin=True)
        else:
            text = store.export_csv(args.run_id)
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _export_tensorboard(args: argparse.Namespace) -> int:
    """Event files go to a directory, so --out is required; several runs in one DIR are separate runs."""
    if not args.out:
        raise _UserError("--format tensorboard writes a folder of event files: give the log directory with "
                         "--out DIR (then run: tensorboard --logdir DIR)")
    from bnviz.report.tensorboard import write_run

    with RunStore() as store:
        record = store.get_record(args.run_id)
    folder = write_run(record, args.out)
    print(f"wrote {folder} (view with: tensorboard --logdir {args.out})", file=sys.stderr)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with RunStore() as store:
        status = store.status(args.run_id)
        if is_active(status) and not args.force:
            raise _UserError(f"run {args.run_id} is {status}; cancel it first or pass --force")
        store.delete(args.run_id)
    print(f"deleted {args.run_id}")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    with RunStore() as store:
        store.rename(args.run_id, args.name, notes=args.notes)
    print(f"renamed {args.run_id}")
    return 0
