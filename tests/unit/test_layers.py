"""The tree keeps its layers and has no import cycles.

main.py -> functions/ -> shared/; infra/local/ -> shared/ (the local stack and its tools); nothing in
shared/ reaches up into functions/, infra/ or main.py, and functions/ never imports the local stack.
Module-level imports form no cycle (imports inside functions, made lazily for cold starts, are
allowed to point anywhere a layer may)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "functions", "infra/local")
# Which top-level layer may import which (at any depth).
ALLOWED = {
    "main": {"functions", "shared"},
    "functions": {"functions", "shared"},
    "shared": {"shared"},
    "infra": {"infra", "shared"},
}


def modules() -> dict[str, Path]:
    found = {"main": REPO / "main.py"}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, *, module_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_layer_reaches_above_itself() -> None:
    known = modules()
    problems = []
    for name, path in known.items():
        layer = name.split(".")[0]
        for imported in imports(path, module_level_only=False):
            target = imported.split(".")[0]
            if target in ALLOWED and target not in ALLOWED[layer]:
                problems.append(f"{path.relative_to(REPO)} imports {imported}")
    assert problems == [], "\n".join(problems)


def test_module_level_imports_form_no_cycle() -> None:
    known = modules()
    graph = {
        name: {m for m in imports(path, module_level_only=True) if m in known and m != name}
        for name, path in known.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_check_reads_the_tree_it_is_about() -> None:
    known = modules()
    assert {"main", "functions.webhook", "shared.inbox", "infra.local.provider_sandbox"} <= set(known)
    assert "infra.local.sandbox_types" in imports(known["infra.local.sandbox_meta"], module_level_only=True)
