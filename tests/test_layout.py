"""The folder tree is the architecture: imports run one way, from the CLI down to the core.

Read statically from the source (no import runs), so a new import that goes upward, or a
circle between two modules, fails here with the names to look at.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "grader"
# Lower floors never import higher ones; packages on one floor do not import each other.
FLOORS = {"core": 0, "checks": 1, "notebook": 2, "kernel": 2, "reports": 3, "grading": 4,
          "classrun": 5, "lms": 6, "api": 7, "cli": 8, "__main__": 9}


def imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The grader modules ``path`` imports (``grader.x.y``), optionally only at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "grader":
            if node.module == "grader":  # `from grader import __version__`, or a subpackage
                found.update(f"grader.{a.name}" for a in node.names if a.name != "__version__")
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("grader."))
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor_of(module: str) -> int | None:
    parts = module.split(".")
    return FLOORS.get(parts[1]) if len(parts) > 1 else None


def test_every_package_has_a_floor():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(FLOORS), sorted((packages | modules) - set(FLOORS))


def test_imports_never_go_up_or_sideways():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        source = module_name(path)
        here = floor_of(source)
        if here is None:  # grader/__init__.py: the package's front door may reach anything
            continue
        for target in imports(path):
            there = floor_of(target)
            same_package = target.split(".")[1] == source.split(".")[1]
            if there is not None and not same_package and there >= here:
                wrong.append(f"{source} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circle_between_modules():
    graph = {module_name(p): {t for t in imports(p, top_level_only=True)} for p in PACKAGE.rglob("*.py")}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in graph.get(node, ()):
            if nxt in trail:
                circles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif len(trail) < 30:
                visit(nxt, trail + [nxt])

    for start in graph:
        visit(start, [start])
    assert not circles, "\n".join(sorted(set(circles))[:10])
