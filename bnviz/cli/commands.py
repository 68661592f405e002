"""`python -m bnviz ...`: the engine from a terminal, over the same code the dashboard uses."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from bnviz.config import ConfigError, ExperimentConfig, parse_assignment
from bnviz.settings import BACKENDS
from bnviz.states import RunState


class CliError(Exception):
    """Bad input: printed as one line, exit code 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (CliError, ConfigError, ValueError) as exc:
        print(f"bnviz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bnviz: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bnviz",
                                     description="Batch normalization explorer engine")
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("presets", help="list the named presets")
    p.add_argument("--json", action="store_true", help="print the presets with their configs as JSON")
    p.set_defaults(handler=cmd_presets)

    p = sub.add_parser("datasets", help="list the datasets a config can name")
    p.add_argument("--json", action="store_true", help="print every dataset's entry as JSON")
    p.set_defaults(handler=cmd_datasets)

    p = sub.add_parser("train", help="train one experiment and write its run record")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", metavar="NAME", help="a preset name (see `presets`)")
    source.add_argument("--config", metavar="FILE.json", help="an experiment config file")
    p.add_argument("--set", dest="updates", action="append", default=[], metavar="KEY=VALUE",
                   help="change one setting, e.g. --set model.norm.placement=before (repeatable)")
    p.add_argument("--epochs", type=_positive_int, help="override training.epochs")
    p.add_argument("--out", metavar="RUN.json", help="write the run record here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--name", default="", help="a name for the run in the run store")
    p.add_argument("--no-store", action="store_true",
                   help="do not record the run in the run store (under BNVIZ_HOME)")
    p.set_defaults(handler=cmd_train)
    _add_store_commands(sub)
    _add_reproduce_command(sub)
    _add_worker_command(sub)
    return parser


def _add_worker_command(sub) -> None:
    """`worker`: the training loop the dashboard's workers run, by hand (bnviz.jobs.worker)."""
    p = sub.add_parser("worker", help="train queued runs of this BNVIZ_HOME until stopped (Ctrl-C)")
    p.add_argument("--backend", choices=tuple(BACKENDS),
                   help="the Keras backend this worker trains on (default: BNVIZ_BACKEND, else tensorflow)")
    p.add_argument("--max-jobs", type=_positive_int,
                   help="trainings at once across all workers of this store (default: BNVIZ_MAX_JOBS, else 1)")
    p.add_argument("--runs", type=_positive_int, help="exit after this many runs (default: never)")
    p.add_argument("--id", dest="worker_id", help=argparse.SUPPRESS)
    p.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # the supervising server's pid
    p.add_argument("--trainer", help=argparse.SUPPRESS)  # MODULE:FUNCTION instead of bnviz's train (tests)
    p.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    from bnviz.jobs.worker import main

    return main(args)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_store_commands(sub) -> None:
    """`runs ...` lives with the run store; absent until the store is installed."""
    try:
        from bnviz.cli.runs import add_commands
    except ImportError:
        return
    add_commands(sub)


def _add_reproduce_command(sub) -> None:
    """`reproduce`: run the experiment gallery headless and write a Markdown report (bnviz.report.reproduce)."""
    from bnviz.report.plan import AUTO, BACKEND_CHOICES

    p = sub.add_parser("reproduce", help="run the experiment gallery and write a reproduction report")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--fast", action="store_true", help="the fast classroom variants (minutes instead of hours)")
    size.add_argument("--full", action="store_true", help="the full-size variants (the default)")
    p.add_argument("--backend", choices=BACKEND_CHOICES, default=AUTO,
                   help="the Keras backend every arm trains on; auto: jax if installed, else tensorflow "
                        "(default: auto)")
    p.add_argument("--out", metavar="DIR", default="reproduction-report",
                   help="write DIR/report.md and its figures (default: reproduction-report)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="only these experiments (slugs; default: all)")
    p.add_argument("--seeds", type=_positive_int, metavar="N",
                   help="repeat every arm over N seeds (default: each card's own: full size 5 for the MLP "
                        "cards, 3 for the CNN cards; --fast 1)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (cards, arms x seeds, epochs, batch size, data, backend, arms the store "
                        "already holds) and train nothing")
    p.add_argument("--data-dir", metavar="DIR", help="use DIR as BNVIZ_DATA_DIR (local MNIST/CIFAR-10 files)")
    p.add_argument("--fresh", action="store_true", help="train every arm even if an identical finished run exists")
    p.add_argument("--format", dest="figure_format", choices=("auto", "png", "html"), default="auto",
                   help="figures as PNG, HTML, or PNG falling back to HTML (default)")
    p.set_defaults(handler=cmd_reproduce)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from bnviz.report.reproduce import cli_command

    return cli_command(args)


# --- commands ----------------------------------------------------------------------

def cmd_presets(args: argparse.Namespace) -> int:
    from bnviz.presets import PRESETS

    if args.json:
        print(json.dumps({n: {"description": p.description, "config": p.config.to_dict()}
                          for n, p in PRESETS.items()}, indent=2))
        return 0
    width = max(map(len, PRESETS))
    for name, preset in PRESETS.items():
        print(f"{name:<{width}}  {preset.description}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    """One line per registry entry: name, kind, input shape, classes, title."""
    from bnviz.data import registry

    rows = [{"name": e.name, "kind": e.kind, "title": e.title, "description": e.description,
             "input_shape": list(e.input_shape) if e.input_shape else None, "classes": e.classes,
             "class_names": list(e.class_names) if e.class_names else None, "n_train": e.n_train,
             "n_test": e.n_test, "downloadable": e.downloadable, "is_file": e.is_file, "options": list(e.options)}
            for e in registry.entries()]
    if args.json:
        print(json.dumps({row.pop("name"): row for row in rows}, indent=2))
        return 0
    table = [("NAME", "KIND", "SHAPE", "CLASSES", "TITLE")]
    for e in registry.entries():
        shape = "x".join(map(str, e.input_shape)) if e.input_shape else "file"
        classes = str(e.classes) if e.classes else ("n_classes" if "n_classes" in e.options else "file")
        table.append((e.name, e.kind, shape, classes, e.title))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])
    return 0


def load_config(args: argparse.Namespace) -> ExperimentConfig:
    """The preset or config file with the --set/--epochs changes; BNVIZ_BACKEND picks the backend
    when neither the file nor a --set says (presets never do)."""
    from bnviz.presets import get_preset
    from bnviz.train.backends import default_backend

    says_backend = False
    if args.preset:
        config = get_preset(args.preset).config
    else:
        path = Path(args.config)
        if not path.is_file():
            raise CliError(f"config file not found: {path}")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read config file {path}: {exc}") from None
        config = ExperimentConfig.from_json(text)
        says_backend = "backend" in (json.loads(text).get("training") or {})
    updates = dict(parse_assignment(item) for item in args.updates)
    if args.epochs:
        updates["training.epochs"] = args.epochs
    if not says_backend and "training.backend" not in updates and default_backend() != config.training.backend:
        updates["training.backend"] = default_backend()
    return config.with_updates(updates) if updates else config


def cmd_train(args: argparse.Namespace) -> int:
    from bnviz.train import backends

    config = load_config(args)
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.exists():
        raise CliError(f"cannot write {out}: directory {out.parent} does not exist")

    backends.activate(config.training.backend)  # before anything imports keras: a process holds one backend
    from bnviz.jobs.recorded import Stop

    bar = None if args.quiet else ProgressBar(sys.stderr)
    stop = Stop()
    if getattr(args, "no_store", True):
        from bnviz.train.training import train

        work = lambda: train(config, sink=bar, stop_event=stop)  # noqa: E731
    else:
        work = _recorded(config, args.name, bar, stop)
    record = run_in_thread(work, stop)
    if bar:
        bar.close()

    if out is not None:
        out.write_text(json.dumps(record, separators=(",", ":")))
    summary = record.get("summary") or {}
    final = summary.get("final") or {}
    status = record["status"]
    shown = ", ".join(f"{k}={v:.4f}" for k, v in final.items() if isinstance(v, float))
    print(f"{status}: {shown or 'no metrics'} "
          f"({summary.get('wall_time_s', 0):.1f}s on {summary.get('device')}, {summary.get('backend')})"
          + (f" -> {out}" if out else ""))
    if record.get("id"):
        print(f"run id: {record['id']}")
    if status == "failed":
        print(f"bnviz: error: {summary.get('error')}", file=sys.stderr)
        return 1
    if status == RunState.DIVERGED:
        print(f"bnviz: the loss became NaN/inf at {summary.get('diverged_at')}; lower the learning rate",
              file=sys.stderr)
        return 3
    return 0 if status == RunState.SUCCEEDED else 130


def _recorded(config: ExperimentConfig, name: str, bar: Any, stop: Any):
    """Register the run in the store now (bad input fails before training); the work returns its record."""
    from bnviz.jobs.recorded import CLI_OWNER, train_recorded
    from bnviz.states import RunState
    from bnviz.store import RunStore

    store = RunStore()
    run_id = store.create_run(config, owner=CLI_OWNER, name=name, status=RunState.RUNNING)

    def work() -> dict[str, Any]:
        train_recorded(store, run_id, config, stop=stop, sink=bar)
        try:
            return store.get_record(run_id)
        except LookupError:  # deleted from another terminal while training
            return {"id": run_id, "status": RunState.CANCELLED, "history": {}, "summary": {"error": "deleted"}}

    return work


def run_in_thread(work, stop: threading.Event) -> Any:
    """Run `work` in a thread so Ctrl-C can stop training cleanly between batches."""
    result: dict[str, Any] = {}

    def target() -> None:
        result["value"] = work()

    thread = threading.Thread(target=target, name="bnviz-train", daemon=True)
    thread.start()
    while thread.is_alive():
        try:
            thread.join(0.2)
        except KeyboardInterrupt:
            print("\nbnviz: stopping after this batch...", file=sys.stderr)
            stop.set()
    return result["value"]


class ProgressBar:
    """A one-line terminal progress bar fed by training events.

    On a terminal it redraws one line; into a log (stderr not a terminal) it writes one plain
    line per epoch, with no carriage returns."""

    def __init__(self, stream, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.last: dict[str, Any] = {}
        isatty = getattr(stream, "isatty", None)
        self.terminal = bool(isatty and isatty())

    def __call__(self, event: dict[str, Any]) -> None:
        if "progress" in event:
            self.last.update(event["progress"])
        if event["type"] == "epoch":
            self.last["metrics"] = event["logs"]
        if event["type"] == "epoch" or (event["type"] == "batch" and self.terminal):
            self.draw()

    def draw(self) -> None:
        p = self.last
        filled = int(self.width * p.get("fraction", 0))
        bar = "#" * filled + "-" * (self.width - filled)
        eta = p.get("eta_s")
        metrics = " ".join(f"{k}={v:.3f}" for k, v in (p.get("metrics") or {}).items()
                           if isinstance(v, float) and k in ("loss", "accuracy", "val_accuracy"))
        line = (f"[{bar}] epoch {p.get('epoch')}/{p.get('epochs')} batch {p.get('batch')}/{p.get('steps')}"
                f" {p.get('samples_per_s') or 0:.0f}/s" + (f" ETA {eta:.0f}s" if eta is not None else " ETA …")
                + (f"  {metrics}" if metrics else ""))
        self.stream.write("\r" + line.ljust(100) if self.terminal else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.last and self.terminal:
            self.stream.write("\n")
            self.stream.flush()
