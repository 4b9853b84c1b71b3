"""The package's shape: its public API, no import circles, app code that
imports only the public API (issue 15)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import caching

ROOT = Path(caching.__file__).parent
REPO = ROOT.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def caching_imports(path: Path) -> set[str]:
    """Every module of caching/ that path imports, at any depth (inside
    functions too: that is where circles hide), but not for type checking.
    ``from caching.store import keys`` imports the submodule keys (its package
    is always initialised first, as its parent, not as an import of it)."""
    found: set[str] = set()

    class Imports(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if not (
                isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            ):
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names if a.name.startswith("caching"))

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.module.split(".")[0] == "caching":
                for alias in node.names:  # a submodule, or a name of the module
                    submodule = f"{node.module}.{alias.name}"
                    is_module = (
                        ROOT.parent / submodule.replace(".", "/")
                    ).exists() or (
                        ROOT.parent / f"{submodule.replace('.', '/')}.py"
                    ).exists()
                    found.add(submodule if is_module else node.module)

    Imports().visit(ast.parse(path.read_text()))
    return found


def test_every_public_name_resolves_and_is_listed():
    assert sorted(caching.__all__) == sorted(caching._PUBLIC)
    for name in caching.__all__:
        assert getattr(caching, name) is not None, name


def test_there_is_no_import_circle_in_the_package():
    modules = {
        module_name(p): p for p in ROOT.rglob("*.py") if "migrations" not in p.parts
    }
    graph = {
        name: {m for m in caching_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, "import circle: " + " -> ".join([*path, name])
        if name in done:
            return
        for imported in graph[name]:
            visit(imported, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])
    assert len(done) == len(modules) > 40


def test_the_apps_import_only_the_public_api():
    for app in ("catalog", "users"):
        for path in (REPO / app).rglob("*.py"):
            deep = {m for m in caching_imports(path) if m.count(".") > 1}
            deep -= {f"caching.{name}" for name in caching.__all__}
            assert not deep, f"{path.relative_to(REPO)} imports {sorted(deep)}"


def test_importing_caching_needs_no_configured_django():
    """Settings import caching.store.topology: the package's root must load
    nothing that reads settings."""
    code = "import caching, caching.store.topology"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env={}
    )
    assert out.returncode == 0, out.stderr
    assert importlib.util.find_spec("caching.testing") is not None
