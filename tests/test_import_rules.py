"""camview's import rules: packages import only the packages below them (no circles, no
upward imports), the core never needs Qt, the window's parts never reach the window, and
module names say their job once."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "camview"


def core_modules() -> list[str]:
    """Every module of camview outside camview/app/, by dotted name."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if "app" in rel.parts or rel.name == "__main__":  # __main__ runs the program
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(parts))
    return names


def test_every_core_module_imports_without_pyqt6():
    # A finder that refuses PyQt6 outright, then every core module imported in a fresh process.
    code = (
        "import sys, importlib, importlib.abc\n"
        "class NoQt(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'PyQt6' or name.startswith('PyQt6.'):\n"
        "            raise ImportError('PyQt6 is not for the core')\n"
        "sys.meta_path.insert(0, NoQt())\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "assert not any(m.startswith('PyQt6') for m in sys.modules)\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def _imports(path: Path, module: str) -> set[str]:
    """The camview modules `path` imports, at module level, inside functions or only for a
    type checker (`if TYPE_CHECKING:` is a circle of knowledge all the same)."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("camview")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if base.startswith("camview"):
                found.add(base)
    return found


def test_no_import_cycle_in_camview():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        modules[".".join(parts)] = path
    graph = {}
    for name, path in modules.items():
        deps = set()
        for target in _imports(path, name):
            # `from camview.maps import x` depends on the package camview.maps itself.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                deps.add(target)
        graph[name] = deps

    # A package's __init__ may re-export its children; a child importing its own package's
    # siblings through the package is still a cycle, so only the edge parent -> child is free.
    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*trail, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
        return None

    cycles = [c for name in graph if (c := cycle_from(name))]
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


#: camview's rooms from the bottom up: a package may import only packages of a lower rank
#: (its own modules aside); two of one rank do not know each other. camview/__init__ says why.
RANKS = {
    "errors": 0, "labels": 1, "sources": 2, "models": 3, "maps": 4, "drawing": 5,
    "network": 6, "checks": 7, "sets": 8, "commands": 9, "live": 9, "app": 10, "cli": 11,
    "__main__": 12, "resources": 0,
}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_room_has_a_rank_and_a_docstring_naming_what_it_may_import():
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    rooms |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert rooms <= set(RANKS), f"rooms without a rank: {sorted(rooms - set(RANKS))}"
    for name in rooms:
        init = PACKAGE / name / "__init__.py"
        if name != "resources" and init.exists():
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
            assert "may import" in doc.lower(), f"camview/{name}/__init__.py: no import rule"


def test_imports_run_one_way():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        module = ".".join(parts)
        here = _room(module)
        if here == "__init__":
            continue
        for target in _imports(path, module):
            there = _room(target)
            if there in ("__init__", here):
                continue
            if RANKS[there] >= RANKS[here]:
                upward.append(f"{module} imports {target}")
    assert not upward, "imports against the rooms' order: " + "; ".join(sorted(upward))


def test_only_the_entry_point_knows_the_main_window():
    """Each part of the window takes the session and its own widgets, never the window."""
    allowed = {"window.py", "main.py"}
    knowing = []
    for path in (PACKAGE / "app").rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if path.name not in allowed and "camview.app.window" in _imports(path, ".".join(parts)):
            knowing.append(str(path.relative_to(PACKAGE)))
    assert not knowing, f"these parts import the main window: {sorted(knowing)}"


def test_no_two_modules_share_a_file_name():
    seen: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name not in ("__init__.py", "base.py"):
            seen.setdefault(path.name, []).append(str(path.relative_to(PACKAGE)))
    shared = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not shared, f"module names used twice: {shared}"


def _imports_qt_widgets(path: Path) -> bool:
    """Whether `path` imports PyQt6.QtWidgets: what makes a module a view, not a model."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            if any(a.name.startswith("PyQt6.QtWidgets") for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").startswith("PyQt6.QtWidgets"):
                return True
            if node.module == "PyQt6" and any(a.name == "QtWidgets" for a in node.names):
                return True
    return False


def test_the_session_imports_no_widget_module():
    """camview/app/session.py is the window's model: neither it nor any camview module it
    imports, however indirectly, may import a widget (PyQt6.QtWidgets), so the session can be
    read, and tested, without the views."""
    start = "camview.app.session"
    seen, todo, widgets = {start}, [start], []
    while todo:
        module = todo.pop()
        path = PACKAGE.parent / Path(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if not path.exists():
            continue
        if _imports_qt_widgets(path):
            widgets.append(module)
        for target in _imports(path, module):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    assert not widgets, f"the session reaches these widget modules: {sorted(widgets)}"
