"""Layering: the dashboard reads the store only; the store's contract imports nothing of ours; each
pipeline package imports only the packages its docstring allows; no import cycles."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: str) -> set[str]:
    names = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_dashboard_source_never_imports_tensorflow_or_the_pipeline():
    assert not _imports("dashboard") & {"tensorflow", "keras", "pipeline", "ai_edge_litert"}


def test_store_imports_nothing_from_the_project():
    assert not _imports("store") & {"pipeline", "dashboard"}


def test_importing_the_dashboard_app_loads_neither_tensorflow_nor_pipeline():
    code = (
        "import sys; import dashboard.app; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'pipeline')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


# --- pipeline/'s packages: each says on its docstring's "Imports:" line what it may import ---

PIPELINE = ROOT / "pipeline"


def _units() -> dict[str, Path]:
    """pipeline/'s packages (their __init__) and top-level modules, by name."""
    units = {p.parent.name: p for p in PIPELINE.glob("*/__init__.py")}
    units |= {p.stem: p for p in PIPELINE.glob("*.py") if p.name != "__init__.py"}
    return units


def _allowed(path: Path) -> set[str]:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    lines = [line for line in doc.splitlines() if line.startswith("Imports:")]
    assert len(lines) == 1, f"{path.relative_to(ROOT)}: its docstring needs one 'Imports:' line"
    names = lines[0].removeprefix("Imports:").strip().rstrip(".")
    return set() if names == "nothing of ours" else {n.strip() for n in names.split(",")}


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function, as a dotted name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def _unit_of(module: str) -> str | None:
    """The unit a dotted name belongs to: a pipeline package or top-level module, or 'store'."""
    parts = module.split(".")
    if parts[0] in ("store", "dashboard"):
        return parts[0]
    if parts[0] == "pipeline" and len(parts) > 1 and parts[1] in _units():
        return parts[1]
    return None


def test_pipeline_has_a_dozen_top_level_modules_at_most():
    assert len(list(PIPELINE.glob("*.py"))) <= 12


def test_every_package_and_top_level_module_says_what_it_may_import():
    units = _units()
    for path in units.values():
        unknown = _allowed(path) - set(units) - {"store"}
        assert not unknown, f"{path.relative_to(ROOT)} allows imports of unknown {unknown}"


def test_each_package_imports_only_what_its_docstring_allows():
    bad = []
    for name, init in _units().items():
        allowed = _allowed(init) | {name}
        files = init.parent.rglob("*.py") if init.name == "__init__.py" else [init]
        for path in files:
            for module in _imported_modules(path):
                unit = _unit_of(module)
                if unit is not None and unit not in allowed:
                    bad.append(f"{path.relative_to(ROOT)} imports {module} ({name} may not)")
    assert not bad, "\n".join(sorted(set(bad)))


def test_the_allowed_imports_are_layers():
    graph = {name: _allowed(path) - {"store"} for name, path in _units().items()}
    assert _cycles(graph) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_two_modules_import_each_other_directly_or_around_a_loop():
    modules = {}
    for top in ("pipeline", "store", "dashboard"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def resolve(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {
        module: {resolve(m) for m in _imported_modules(path)} - {None, module}
        for module, path in modules.items()
    }
    assert _cycles(graph) == []


def test_the_readme_map_names_every_package_and_module():
    readme = (ROOT / "README.md").read_text()
    where = readme[readme.index("Where things live") :]
    missing = [
        p.relative_to(ROOT).as_posix()
        for p in PIPELINE.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
        and p.name not in where
        or p.name == "__init__.py"
        and p.parent != PIPELINE
        and f"{p.parent.name}/" not in where
    ]
    assert not missing, f"README's 'Where things live' does not name {missing}"


def test_no_function_of_the_pipeline_or_the_store_runs_over_60_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
        for top in ("pipeline", "store")
        for path in (ROOT / top).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long, long
