"""The package layout issue 11 asks for: small modules, one per gallery card, old imports intact."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

BNVIZ = Path(__file__).resolve().parents[1] / "bnviz"


@pytest.mark.parametrize("folder", ["bnviz", "ui", "pages"])
def test_no_module_is_much_over_400_lines(folder: str) -> None:
    """Small modules with names that say what they hold: the project's rule, for every source file."""
    root = BNVIZ.parent / folder
    sizes = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in root.rglob("*.py")}
    assert sizes and max(sizes.values()) <= 410, {name: n for name, n in sizes.items() if n > 410}


def test_one_module_per_card_and_cards_take_keywords() -> None:
    from bnviz.gallery import EXPERIMENTS, Experiment

    found = []
    for path in sorted((BNVIZ / "gallery" / "cards").glob("*.py")):
        module = importlib.import_module(f"bnviz.gallery.cards.{path.stem}")
        cards = [v for v in vars(module).values() if isinstance(v, Experiment)]
        assert len(cards) == (0 if path.stem in ("__init__", "tutorial") else 1), path.name
        found += [c.slug for c in cards]
    assert sorted(found) == sorted(EXPERIMENTS) and len(found) == 13
    card = EXPERIMENTS["learning-rate"]
    values = [getattr(card, f.name) for f in dataclasses.fields(Experiment)]
    with pytest.raises(TypeError):
        Experiment(*values)  # keyword arguments only


def test_old_import_surfaces_still_work() -> None:
    from bnviz import figures, gallery
    from bnviz.data import loading

    surfaces = {
        loading: ("DATASET_INFO", "ENV_DATA_DIR", "Dataset", "DatasetError", "clear_cache", "data_dir",
                  "inspect_upload", "load_dataset", "read_idx_gz", "write_idx_gz"),
        gallery: ("EXPERIMENTS", "SKIPPED", "TOLERANCE", "Arm", "Experiment", "Row", "UnknownExperiment",
                  "aggregate_arm_metric", "get_experiment", "sweep_figure", "sweep_points", "median_drift",
                  "bn_warmup", "final_value", "check_configs"),
        figures: ("loss_curves", "compare_curves", "histogram_overlay", "bn_parameters", "image_grid",
                  "scatter_2d", "aggregate_series", "PALETTE", "sweep_figure", "published_vs_ours"),
    }
    for module, names in surfaces.items():
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"


# --- The import graph: layers, cycles, private names -------------------------------------------
#
# Each engine module sits in a layer; a module imports only from its own layer or lower ones, so
# the layout reads bottom-up: vocabulary, data, configs, training, the store, jobs, figures, the
# gallery, reports, the command line. `bnviz/__init__.py` is the public façade and may import
# (lazily) from anywhere. The dashboard (ui/, pages/) sits above all of it.

ROOT = BNVIZ.parent
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bnviz.errors", "bnviz.ids", "bnviz.states", "bnviz.settings", "bnviz.events", "bnviz.record",
     "bnviz.access"),  # the shared vocabulary
    ("bnviz.data",),
    ("bnviz.config", "bnviz.norm_config", "bnviz.presets", "bnviz.layer_plan", "bnviz.limits"),
    ("bnviz.train",),
    ("bnviz.store",),
    ("bnviz.jobs",),
    ("bnviz.watcher",),  # a user's own fit() recorded into the store (bnviz.watch)
    ("bnviz.figures",),
    ("bnviz.gallery",),
    ("bnviz.report",),
    ("bnviz.cli", "bnviz.__main__"),
)
FACADE = "bnviz"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(*folders: str) -> dict[str, Path]:
    return {_module_name(p): p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))}


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """Every import in a file, at any depth (functions, `if TYPE_CHECKING:`): (module, name, line).

    `import a.b` gives ("a.b", None); `from a.b import c` gives ("a.b", "c")."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(base, alias.name, node.lineno) for alias in node.names]
    return found


def _target(known: dict[str, Path], module: str, name: str | None) -> str | None:
    """The bnviz module an import loads: `from pkg import sub` loads pkg.sub when that is a module."""
    if name and f"{module}.{name}" in known:
        return f"{module}.{name}"
    return module if module in known else None


def _graph() -> dict[str, set[str]]:
    known = _modules("bnviz")
    graph: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        for imported, name, _ in _imports(path):
            target = _target(known, imported, name)
            if target and target != module:
                graph[module].add(target)
    return graph


def _layer(module: str) -> int | None:
    for level, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    return None


def _reexports_own_submodule(module: str, target: str) -> bool:
    """A package __init__ importing from its own submodules is how it re-exports them, not a cycle."""
    return (ROOT / Path(*module.split(".")) / "__init__.py").exists() and target.startswith(module + ".")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_checks_see_what_they_look_for() -> None:
    """The graph holds imports inside functions and under `if TYPE_CHECKING:`; cycles are found."""
    graph = _graph()
    assert "bnviz.gallery.metrics" in graph["bnviz.gallery.model"]
    assert "bnviz.train.training" in graph[FACADE]  # imported inside `train()`
    assert "bnviz.store.db" in graph["bnviz.store.schema"]  # imported under `if TYPE_CHECKING:`
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _layer("bnviz.jobs.worker") == 5 and _layer("bnviz.settings") == 0


def test_every_engine_module_has_a_layer() -> None:
    assert [m for m in _modules("bnviz") if m != FACADE and _layer(m) is None] == []


def test_no_import_cycles_between_engine_modules() -> None:
    """Any import counts, at run time or for typing: a cycle means two modules are really one, or
    that something shared belongs lower down."""
    graph = {m: {t for t in targets if not _reexports_own_submodule(m, t)} for m, targets in _graph().items()}
    cycles = [" <-> ".join(c) for c in _cycles(graph)]
    assert cycles == [], "import cycles: " + "; ".join(cycles)


def test_no_layer_imports_a_higher_one() -> None:
    wrong = [
        f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
        for module, targets in _graph().items() if module != FACADE
        for target in sorted(targets)
        if target != FACADE and _layer(target) > _layer(module)
    ]
    assert wrong == []


def test_engine_modules_never_import_the_facade() -> None:
    """`bnviz/__init__` loads the config, the presets and the training entry point; a module under it
    that imported `bnviz` itself would reach them whatever its layer."""
    known = _modules("bnviz")
    wrong = [f"{m}:{line}" for m, path in known.items() if m != FACADE
             for imported, name, line in _imports(path) if _target(known, imported, name) == FACADE]
    assert wrong == []


def test_no_module_imports_another_modules_private_names() -> None:
    """A leading underscore means "only this module uses it": a name others need gets a public one.
    Tests and benchmarks may reach inside."""
    known = _modules("bnviz", "ui", "pages")
    wrong = []
    for module, path in known.items():
        for imported, name, line in _imports(path):
            if not (imported.split(".")[0] in ("bnviz", "ui", "pages") and imported != module):
                continue
            private = [n for n in (name, *(imported.split(".")[1:])) if n and n.startswith("_")
                       and not (n.startswith("__") and n.endswith("__"))]
            if private:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported}.{name or ''}")
    wrong += [f"{path.relative_to(ROOT)}:{line} {attr}" for path, line, attr in _private_attributes(known)]
    assert wrong == []


def _private_attributes(known: dict[str, Path]) -> list[tuple[Path, int, str]]:
    """`module._name` where `module` was imported from bnviz, ui or pages under that name."""
    found = []
    for path in known.values():
        tree = ast.parse(path.read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                aliases.update({(a.asname or a.name.split(".")[0]): a.name for a in node.names})
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                aliases.update({(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names
                                if f"{node.module}.{a.name}" in known})
        local = {k for k, v in aliases.items() if v.split(".")[0] in ("bnviz", "ui", "pages")}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in local
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append((path, node.lineno, f"{node.value.id}.{node.attr}"))
    return found


def test_the_engine_never_imports_streamlit_or_the_dashboard() -> None:
    """The engine runs in workers, the CLI and reports, where there is no Streamlit and no page."""
    wrong = [f"{m}:{line} {imported}" for m, path in _modules("bnviz").items()
             for imported, _, line in _imports(path) if imported.split(".")[0] in ("streamlit", "ui", "pages")]
    assert wrong == []


def test_the_dashboard_compares_run_states_and_event_kinds_by_name() -> None:
    """`RunState.FAILED`, not "failed": a renamed state then fails loudly instead of never matching.
    Event kinds compared against an event's "type" likewise go through `EventKind`."""
    from bnviz.events import EventKind
    from bnviz.states import RunState

    states = {str(s) for s in RunState}
    kinds = {str(k) for k in EventKind}

    def literals(node: ast.AST) -> list[str]:
        items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
        return [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]

    def reads_type(node: ast.AST) -> bool:
        key = (node.slice if isinstance(node, ast.Subscript) else
               node.args[0] if isinstance(node, ast.Call) and node.args and
               isinstance(node.func, ast.Attribute) and node.func.attr == "get" else None)
        return isinstance(key, ast.Constant) and key.value == "type"

    wrong = []
    for path in _modules("ui", "pages").values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                found = {v for side in sides for v in literals(side)}
                bad = found & states
                if any(reads_type(side) for side in sides):
                    bad |= found & kinds
                wrong += [f"{path.relative_to(ROOT)}:{node.lineno} {v!r}" for v in sorted(bad)]
            elif isinstance(node, ast.Dict):
                wrong += [f"{path.relative_to(ROOT)}:{node.lineno} {k.value!r}" for k in node.keys
                          if isinstance(k, ast.Constant) and k.value in states]
    assert wrong == []


def test_every_page_file_goes_through_the_apps_frame() -> None:
    """A page file ends with `shell.show(page)`: on a fresh server a deep link runs the file alone
    (issue 23: Streamlit's raw listing of pages/ instead of the app's navigation)."""
    from ui import routes

    files = sorted(route.file for route in routes.ROUTES.values())
    assert files == sorted(str(p.relative_to(BNVIZ.parent)) for p in (BNVIZ.parent / "pages").glob("*.py"))
    assert [f for f in files if not (BNVIZ.parent / f).read_text().rstrip().endswith("\nshell.show(page)")] == []
