"""Layering: the dashboard reads the store only; the store's contract imports nothing of ours."""

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
