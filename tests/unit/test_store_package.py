"""``shared/store/`` is the only code that touches Firestore, and callers reach it as one package.

What this holds together:

- ``store.__all__`` names only what exists, and every public name the store's modules define is in it,
  as the very object the module defines (``store.X is shared.store.<module>.X``);
- every ``store.X`` written in shared/, functions/, infra/, bench/, tests/ or main.py (in a file that
  imports the store) names an export (a public name in ``__all__``; a private one, such as
  ``store._route_cache``, at least an attribute of the package), and no caller imports a store module
  directly (``shared.store.inbox``...): the modules are free to move names between them;
- a test that patches ``store.X`` reaches the code that uses X: X is not used inside the store's own
  modules, which bind their names directly and would not see the patch (patch
  ``shared.store.<module>.X`` then);
- the store's modules import, of this project, only shared.config, shared.errors, shared.models and
  ``shared.store._client`` (no cycles, no dependence on the products built on the store), and
  importing the package loads no Firestore, google-api-core or gRPC code (no client at import);
- "Firestore is touched by one module": no production code outside ``shared/store/`` (main.py,
  functions/, the rest of shared/, infra/) imports the Firestore library (``google.cloud.firestore``,
  ``firestore_v1``..., by import statement or by name). tests/ and bench/ may: they read back what the
  system wrote with query filters (``FieldFilter``) and count its RPCs by wrapping the library's
  ``WriteBatch.commit`` / ``FirestoreClient`` methods, always on the client ``store.client()`` made.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

from shared import store
from tests.support import REPO

STORE_DIR = REPO / "shared" / "store"
STORE_MODULES = sorted(f"shared.store.{info.name}" for info in pkgutil.iter_modules(store.__path__))
# What the store's modules may import from this project (besides shared.store._client).
STORE_MAY_IMPORT = ("shared.config", "shared.errors", "shared.models", "shared.store._client")
CALLER_DIRS = ("shared", "functions", "infra", "bench", "tests")
PRODUCTION_DIRS = ("shared", "functions", "infra")
USES_OF_STORE = re.compile(r"(?<![\w])store\.([A-Za-z_]\w*)")
IMPORTS_STORE = re.compile(r"^\s*(from shared import [^\n]*\bstore\b|import shared\.store\b)", re.M)
# monkeypatch.setattr(store, "X", ...), monkeypatch.setattr(inbox.store, "X", ...), setattr(store, "X"...)
PATCHES_STORE = re.compile(r"setattr\(\s*(?:[\w.]+\.)?store\s*,\s*[\"'](\w+)[\"']")
PATCHES_STORE_BY_PATH = re.compile(r"setattr\(\s*[\"']shared\.store\.(\w+)[\"']")


def python_files(*tops: str) -> list[Path]:
    """The project's Python files under ``tops`` (not the store's own, no vendored node_modules)."""
    files = []
    for top in tops:
        for path in (REPO / top).rglob("*.py"):
            parts = path.relative_to(REPO).parts
            if "node_modules" in parts or ".venv" in parts or path.is_relative_to(STORE_DIR):
                continue
            files.append(path)
    return sorted(files)


def defined_names(module_name: str) -> list[str]:
    """The top-level names a store module itself defines (functions, classes, constants)."""
    module = importlib.import_module(module_name)
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return names


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import in ``tree``, at any depth; ``from a import b`` counts as
    ``a.b`` too, so ``from google.cloud import firestore`` is ``google.cloud.firestore``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def test_the_exports_exist_once_each() -> None:
    assert len(store.__all__) == len(set(store.__all__))
    missing = [name for name in store.__all__ if not hasattr(store, name)]
    assert not missing, f"store.__all__ names what the package lacks: {missing}"


def test_every_public_name_of_the_store_modules_is_exported_as_itself() -> None:
    assert STORE_MODULES == [
        "shared.store._client",
        "shared.store.audit",
        "shared.store.canned",
        "shared.store.chat",
        "shared.store.contacts",
        "shared.store.csat",
        "shared.store.erasure",
        "shared.store.exports",
        "shared.store.inbox",
        "shared.store.labels",
        "shared.store.media",
        "shared.store.notifications",
        "shared.store.operator",
        "shared.store.push_roster",
        "shared.store.reports",
        "shared.store.routing",
        "shared.store.search",
        "shared.store.team",
        "shared.store.workspace",
    ]
    problems = []
    for module_name in STORE_MODULES:
        module = importlib.import_module(module_name)
        for name in defined_names(module_name):
            if name.startswith("_"):
                continue
            if name not in store.__all__:
                problems.append(f"{module_name}.{name} is not in store.__all__")
            elif getattr(store, name) is not getattr(module, name):
                problems.append(f"store.{name} is not {module_name}.{name}")
    assert not problems, "\n".join(problems)


def test_every_name_callers_use_is_exported() -> None:
    used: dict[str, set[str]] = {}
    for path in [*python_files(*CALLER_DIRS), REPO / "main.py"]:
        text = path.read_text(encoding="utf-8")
        if path == Path(__file__).resolve() or not IMPORTS_STORE.search(text):
            continue
        for name in USES_OF_STORE.findall(text):
            used.setdefault(name, set()).add(str(path.relative_to(REPO)))
    assert {"create_first_message", "resolve_route", "Route", "write_post", "client", "reset"} <= set(used)
    missing = {
        name: sorted(paths)
        for name, paths in used.items()
        if (name not in store.__all__ if not name.startswith("_") else not hasattr(store, name))
    }
    assert not missing, f"callers use store names the package does not export: {missing}"


def test_callers_import_the_package_never_a_module_of_it() -> None:
    offenders = []
    for path in [*python_files(*CALLER_DIRS), REPO / "main.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, module in imported_modules(tree):
            if (
                module.startswith("shared.store.")
                and module.removeprefix("shared.store.") not in store.__all__
            ):
                offenders.append(f"{path.relative_to(REPO)}:{line}: {module}")
    assert not offenders, "import `from shared import store` instead:\n" + "\n".join(offenders)


def test_patching_a_store_name_reaches_the_code_that_uses_it() -> None:
    """``store.X`` is the package's binding: the store's own modules call X through theirs."""
    used_inside: dict[str, list[str]] = {}
    for module_name in STORE_MODULES:
        module = importlib.import_module(module_name)
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                used_inside.setdefault(node.id, []).append(module_name)
    patched = {}
    for path in python_files("tests", "bench"):
        text = path.read_text(encoding="utf-8")
        for name in [*PATCHES_STORE.findall(text), *PATCHES_STORE_BY_PATH.findall(text)]:
            patched[name] = str(path.relative_to(REPO))
    assert "maximum" in patched  # tests/unit/test_channel_protocol.py patches inbox.store.maximum
    unreached = {
        name: f"{where} patches store.{name}, but {sorted(set(used_inside[name]))} call it directly"
        for name, where in patched.items()
        if name in used_inside
    }
    assert not unreached, f"patch the module that uses the name instead: {unreached}"


def test_the_store_modules_import_only_config_errors_models_and_the_client() -> None:
    problems = []
    for module_name in STORE_MODULES:
        module = importlib.import_module(module_name)
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for line, imported in imported_modules(tree):
            if not imported.startswith(("shared.", "functions.", "infra.", "main")):
                continue
            if imported == module_name or imported.startswith(f"{module_name}."):
                continue
            if module_name == "shared.store._client" and imported.startswith("shared.store"):
                problems.append(f"{module_name}:{line}: {imported} (the client imports no store module)")
            elif not any(
                imported == allowed or imported.startswith(f"{allowed}.") for allowed in STORE_MAY_IMPORT
            ):
                problems.append(f"{module_name}:{line}: {imported}")
    assert not problems, "\n".join(problems)


def test_importing_the_store_loads_no_firestore_code() -> None:
    heavy = ("google.cloud.firestore", "google.api_core", "grpc")
    probe = (
        "import sys; import shared.store; "
        f"heavy = sorted(m for m in sys.modules if m.startswith({heavy!r})); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"importing shared.store loaded {result.stdout.strip()} {result.stderr}"


def test_only_the_store_imports_firestore() -> None:
    firestore = re.compile(r"^google\.cloud\.firestore")
    offenders = []
    for path in [*python_files(*PRODUCTION_DIRS), REPO / "main.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, module in imported_modules(tree):
            if firestore.match(module):
                offenders.append(f"{path.relative_to(REPO)}:{line}: imports {module}")
        for node in ast.walk(tree):  # importlib.import_module("google.cloud.firestore...") and the like
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and firestore.match(node.value):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: names {node.value}")
    assert not offenders, "only shared/store/ touches Firestore:\n" + "\n".join(offenders)


def test_the_firestore_check_sees_what_it_must() -> None:
    samples = {
        "from google.cloud import firestore": True,
        "from google.cloud.firestore_v1.base_query import FieldFilter": True,
        "import google.cloud.firestore_v1 as fs": True,
        "from google.cloud import pubsub_v1": False,
        "from google.api_core.exceptions import NotFound": False,
    }
    for source, flagged in samples.items():
        modules = [module for _, module in imported_modules(ast.parse(source))]
        assert any(module.startswith("google.cloud.firestore") for module in modules) is flagged, source
