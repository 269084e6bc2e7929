#!/usr/bin/env python3
"""Move the flat ``pipeline/*.py`` modules into their packages and rewrite every reference to them.

    python tools/relayout.py [--root DIR] [--map FILE] [--check] [--no-ruff]

Reads the map (default tools/relayout_map.txt beside this script), one ``old new`` per line:

* ``pipeline.x pipeline.pkg.mod``: the module file ``pipeline/x.py`` becomes ``pipeline/pkg/mod.py``
  (``git mv``; a missing package folder gets an ``__init__.py``); ``old == new`` says it stays.
* ``pipeline.x.Name pipeline.pkg.mod.Name``: one name that used to be imported from ``pipeline.x``
  is imported from ``pipeline.pkg.mod`` instead (a module that was split).

Then rewrites, in every file git knows of (tracked or untracked-not-ignored) with a text suffix:

* ``from pipeline.x import a, b`` (split over several lines when the names now live in
  several modules), ``from pipeline import x`` (-> ``from pipeline.pkg import mod as x``);
* any other dotted ``pipeline.x[.attr]``: ``import pipeline.x``, ``pipeline.x.f(...)``, strings
  such as ``-m pipeline.cli`` or mock targets, entry points (``pipeline.cli:main``);
* paths ``pipeline/x.py`` (docstrings, comments, the README).

Where a new package has an old module's name (``pipeline/data.py`` -> ``pipeline/data/stage.py``),
``pipeline.data.windows`` is read as new (``windows`` is a module of the new package) and
``pipeline.data.load_split`` or a bare ``pipeline.data`` as old. So in prose name a package as a
folder (``pipeline/data/``), not as a bare dotted name.

Idempotent: on a tree already moved it changes nothing, so run it again after merging work that
still uses the old flat names. ``--check`` changes nothing and exits 1 when something would
change. Files at an old path that also exist at their new path (both edited after a merge) are
reported, not overwritten. ``pipeline/*.py`` files the map does not name are reported.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".sh", ".sql", ".yml", ".yaml"}
TEXT_NAMES = {"Makefile"}
DOTTED = re.compile(r"(?<![\w.])pipeline((?:\.[A-Za-z_]\w*)+)")
PATH = re.compile(r"(?<![\w/.])pipeline/([A-Za-z_]\w*)\.py\b")


class Layout:
    """The map, and what the new layout's modules are."""

    def __init__(self, map_file: Path, root: Path):
        self.modules: dict[str, str] = {}  # old flat module -> new module
        self.symbols: dict[str, str] = {}  # old module.Name -> new module.Name
        for n, line in enumerate(map_file.read_text().splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or not all(p.startswith("pipeline.") for p in parts):
                sys.exit(f"{map_file}:{n}: expected 'pipeline.old pipeline.new', got {line!r}")
            old, new = parts
            depth = old.count(".")
            if depth == 1:
                self.modules[old] = new
            elif depth == 2 and old.rsplit(".", 1)[0].count(".") == 1:
                self.symbols[old] = new
            else:
                sys.exit(f"{map_file}:{n}: old names are flat modules (pipeline.x) or their names")
        self.new_modules = set(self.modules.values())
        for new in list(self.new_modules):  # their packages too
            parts = new.split(".")
            self.new_modules |= {".".join(parts[:i]) for i in range(2, len(parts))}
        for path in (root / "pipeline").rglob("*.py"):  # and whatever else the new tree has
            rel = path.relative_to(root).with_suffix("")
            if len(rel.parts) > 2:
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                self.new_modules.add(".".join(parts))

    def is_old(self, module: str) -> bool:
        return self.modules.get(module, module) != module

    def is_new(self, dotted: str) -> bool:
        return dotted in self.new_modules

    def rewrite_dotted(self, dotted: str) -> str:
        """``pipeline.x[.rest]`` written against the old layout -> the new layout."""
        parts = dotted.split(".")
        if len(parts) < 2:
            return dotted
        if len(parts) >= 3 and ".".join(parts[:3]) in self.symbols:
            return ".".join([self.symbols[".".join(parts[:3])], *parts[3:]])
        head = ".".join(parts[:2])
        if not self.is_old(head):
            return dotted
        if len(parts) >= 3 and self.is_new(".".join(parts[:3])):
            return dotted  # a module of the new package that took the old module's name
        return ".".join([self.modules[head], *parts[2:]])


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def clashes(root: Path, layout: Layout) -> list[str]:
    """Old modules whose new package has their name and a module named like one of their names:
    `from pipeline.cli import app` would be read as the module, not the old module's `app`."""
    found = []
    for old, new in layout.modules.items():
        if not new.startswith(old + "."):
            continue
        source = next(
            (p for p in (root / f"{m.replace('.', '/')}.py" for m in (old, new)) if p.exists()),
            None,
        )
        modules = {m.rsplit(".", 1)[1] for m in layout.new_modules if m.startswith(old + ".")}
        for name in sorted(_top_level_names(source) & modules) if source else []:
            found.append(f"{old} defines {name!r} and {old}.{name} is a new module: rename it")
    return found


def _import_line(module: str, names: list[tuple[str, str | None]]) -> str:
    return f"from {module} import " + ", ".join(n if a is None else f"{n} as {a}" for n, a in names)


def _rewrite_import_from(node: ast.ImportFrom, layout: Layout) -> list[str] | None:
    """New lines for one ``from pipeline... import ...``, or None when it is already new-style."""
    names = [(a.name, a.asname) for a in node.names]
    groups: dict[str, list[tuple[str, str | None]]] = {}
    changed = False
    if node.module == "pipeline":
        for name, asname in names:
            old = f"pipeline.{name}"
            if layout.is_old(old):
                package, leaf = layout.modules[old].rsplit(".", 1)
                local = asname or name
                groups.setdefault(package, []).append((leaf, None if leaf == local else local))
                changed = True
            else:
                groups.setdefault("pipeline", []).append((name, asname))
    elif layout.is_old(node.module):
        if all(layout.is_new(f"{node.module}.{n}") for n, _ in names):
            return None  # `from pipeline.data import windows`: modules of the new package
        for name, asname in names:
            symbol = f"{node.module}.{name}"
            if symbol in layout.symbols:
                module, new_name = layout.symbols[symbol].rsplit(".", 1)
                local = asname or name
                groups.setdefault(module, []).append(
                    (new_name, None if new_name == local else local)
                )
            else:
                groups.setdefault(layout.modules[node.module], []).append((name, asname))
        changed = True
    else:
        for name, asname in names:
            symbol = f"{node.module}.{name}"
            module, new_name = layout.symbols.get(symbol, symbol).rsplit(".", 1)
            changed |= module != node.module
            local = asname or name
            groups.setdefault(module, []).append((new_name, None if new_name == local else local))
    if not changed:
        return None
    return [_import_line(m, ns) for m, ns in groups.items()]


def _offsets(text: str) -> list[int]:
    starts, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _is_pipeline_import_from(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.ImportFrom)
        and node.level == 0
        and (node.module == "pipeline" or (node.module or "").startswith("pipeline."))
    )


def rewrite_python(text: str, layout: Layout) -> str:
    """The import statements of a Python file (by its syntax tree), then its other references."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return rewrite_text(text, layout, [])
    starts = _offsets(text)
    edits = []
    for node in ast.walk(tree):
        if _is_pipeline_import_from(node):
            lines = _rewrite_import_from(node, layout)
            if lines is not None:
                a = starts[node.lineno - 1] + node.col_offset
                b = starts[node.end_lineno - 1] + node.end_col_offset
                # a comment inside the statement's parentheses (a noqa directive) stays with it
                comments = re.findall(r"#[^\n]*", text[a:b])
                tail = "  " + " ".join(comments) if comments else ""
                edits.append((a, b, ("\n" + " " * node.col_offset).join(x + tail for x in lines)))
    for a, b, new in sorted(edits, reverse=True):
        text = text[:a] + new + text[b:]
    # the import-from statements are new-style now: keep the dotted pass off them
    starts, skip = _offsets(text), []
    for node in ast.walk(ast.parse(text)):
        if _is_pipeline_import_from(node):
            skip.append(
                (
                    starts[node.lineno - 1] + node.col_offset,
                    starts[node.end_lineno - 1] + node.end_col_offset,
                )
            )
    return rewrite_text(text, layout, skip)


def rewrite_text(text: str, layout: Layout, skip: list[tuple[int, int]]) -> str:
    def dotted(m: re.Match) -> str:
        if any(a <= m.start() < b for a, b in skip):
            return m.group(0)
        return layout.rewrite_dotted(m.group(0))

    def path(m: re.Match) -> str:
        old = f"pipeline.{m.group(1)}"
        if not layout.is_old(old):
            return m.group(0)
        return layout.modules[old].replace(".", "/") + ".py"

    return PATH.sub(path, DOTTED.sub(dotted, text))


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def move_files(root: Path, layout: Layout, check: bool) -> tuple[list[str], list[str]]:
    moved, problems = [], []
    for old, new in layout.modules.items():
        src = root / (old.replace(".", "/") + ".py")
        dst = root / (new.replace(".", "/") + ".py")
        if old == new or not src.exists():
            continue
        if dst.exists():
            problems.append(f"both {src.relative_to(root)} and {dst.relative_to(root)} exist")
            continue
        moved.append(f"{src.relative_to(root)} -> {dst.relative_to(root)}")
        if check:
            continue
        for package in reversed(dst.relative_to(root).parents[:-1]):
            init = root / package / "__init__.py"
            if not init.exists():
                init.parent.mkdir(parents=True, exist_ok=True)
                init.write_text(f'"""{package.as_posix()}/"""\n')
                _git(root, "add", str(init.relative_to(root)))
        _git(root, "mv", str(src.relative_to(root)), str(dst.relative_to(root)))
    known = {old.replace(".", "/") + ".py" for old in layout.modules}
    for path in sorted((root / "pipeline").glob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel not in known and path.name != "__init__.py":
            problems.append(f"{rel} is not in the map: where does it go?")
    return moved, problems


def text_files(root: Path, exclude: set[Path]) -> list[Path]:
    listed = _git(root, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    files = []
    for rel in listed:
        path = root / rel
        if path.resolve() in exclude or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
            files.append(path)
    return files


def main() -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (default: .)")
    parser.add_argument("--map", type=Path, default=here / "relayout_map.txt")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if needed")
    parser.add_argument("--no-ruff", action="store_true", help="do not re-sort changed imports")
    args = parser.parse_args()
    root = args.root.resolve()
    layout_before = Layout(args.map, root)
    ambiguous = clashes(root, layout_before)
    if ambiguous:
        print("\n".join(ambiguous), file=sys.stderr)
        return 2
    moved, problems = move_files(root, layout_before, args.check)
    layout = Layout(args.map, root)  # the new modules the moves made
    exclude = {Path(__file__).resolve(), args.map.resolve()}
    rewritten = []
    for path in text_files(root, exclude):
        text = path.read_text()
        new = (
            rewrite_python(text, layout) if path.suffix == ".py" else rewrite_text(text, layout, [])
        )
        if new != text:
            rewritten.append(path)
            if not args.check:
                path.write_text(new)
    py = [str(p) for p in rewritten if p.suffix == ".py"]
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if py and not args.check and not args.no_ruff and Path(ruff).exists():
        subprocess.run([ruff, "check", "--select", "I", "--fix", "-q", *py], cwd=root)
        subprocess.run([ruff, "format", "-q", *py], cwd=root)
    for line in moved:
        print(("would move " if args.check else "moved ") + line)
    for path in rewritten:
        print(("would rewrite " if args.check else "rewrote ") + str(path.relative_to(root)))
    for line in problems:
        print("CHECK BY HAND: " + line, file=sys.stderr)
    print(f"{len(moved)} moved, {len(rewritten)} rewritten, {len(problems)} to check by hand")
    return 1 if problems or (args.check and (moved or rewritten)) else 0


if __name__ == "__main__":
    sys.exit(main())
