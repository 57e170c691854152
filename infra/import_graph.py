"""``python -m infra.import_graph``: the suite's import graph, package by package.

    python -m infra.import_graph            # one line per package: what it imports
    python -m infra.import_graph --modules  # one line per module

Built with grimp (import-linter's graph, installed with ``.[dev]``), the same graph that
``lint-imports`` checks against the contracts in ``pyproject.toml``.
"""

from __future__ import annotations

import sys

from infra.cli import ArgumentParser, run_main
from infra.errors import UsageError

ROOTS = ("infra", "search_space", "runners", "scaling", "analysis")
# Packages shown on their own: the top-level ones and the sub-packages of runners.
UNITS = ("runners.data", "runners.learning", "runners.search", "runners.train", "runners.evaluate", *ROOTS)


def unit_of(module: str) -> str:
    """The package a module is counted in: the longest of :data:`UNITS` it lies in."""
    return max((unit for unit in UNITS if module == unit or module.startswith(unit + ".")), key=len)


def import_graph(modules: bool = False) -> dict[str, set[str]]:
    """What each package (or module) imports of the suite."""
    try:
        import grimp
    except ImportError:
        raise UsageError("the import graph needs grimp: pip install -e '.[dev]'") from None
    graph = grimp.build_graph(*ROOTS)
    edges: dict[str, set[str]] = {}
    for module in sorted(graph.modules):
        source = module if modules else unit_of(module)
        targets = edges.setdefault(source, set())
        for imported in graph.find_modules_directly_imported_by(module):
            target = imported if modules else unit_of(imported)
            if target != source:
                targets.add(target)
    return edges


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m infra.import_graph", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", action="store_true", help="one line per module instead of per package")
    args = parser.parse_args(argv)

    def show() -> int:
        for source, targets in import_graph(args.modules).items():
            print(f"{source} -> {', '.join(sorted(targets)) or '(nothing of the suite)'}")
        return 0

    return run_main(show)


if __name__ == "__main__":
    sys.exit(main())
