"""A small mutation check: does the test suite notice a deliberate bug?

Each mutant changes one thing in one module (a comparison, an arithmetic or
boolean operator, a number, a constant True/False, a dropped ``not``, a call
statement removed) and the tests that cover that module are run against it in
a scratch copy of the project. A mutant that no test fails on "survives": a
behaviour the suite would let break unnoticed. The working tree is never
modified.

    python tests/mutate.py                  # the selection, smoothing and output modules
    python tests/mutate.py spots --jobs 2   # one module, two mutants at a time
    python tests/mutate.py --list           # the mutants only, nothing run

Exits non-zero when the kill rate is below ``--min-kill`` (default 0.9).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent

QUICK_SELECTION_TESTS = ["tests/test_rules.py", "tests/test_spots.py", "tests/test_duplicates.py", "tests/test_smoothing.py",
                         "tests/test_plot.py"]
SLOW_SELECTION_TESTS = ["tests/test_shots.py", "tests/test_labels.py", "tests/test_picks.py"]
TARGETS: Dict[str, Tuple[str, List[List[str]]]] = {
    # module: (source file, the test files that cover it: quick unit tests first, then the slower ones)
    "spots": ("vidaesthetic/curve/spots.py", [QUICK_SELECTION_TESTS, SLOW_SELECTION_TESTS]),
    "shots": ("vidaesthetic/curve/shots.py", [QUICK_SELECTION_TESTS, SLOW_SELECTION_TESTS]),
    "duplicates": ("vidaesthetic/curve/duplicates.py", [QUICK_SELECTION_TESTS, ["tests/test_loops.py"]]),
    "smoothing": ("vidaesthetic/curve/smoothing.py", [[*QUICK_SELECTION_TESTS, "tests/test_authors_smoothing.py"],
                                                      ["tests/test_shots.py", "tests/test_stream.py"]]),
    "export": ("vidaesthetic/output/folder.py",
               [["tests/test_folder.py", "tests/test_plot.py", "tests/test_markers.py"],
                ["tests/test_pipeline.py", "tests/test_batch.py", "tests/test_avi.py"]]),
    "markers": ("vidaesthetic/output/markers/__init__.py", [["tests/test_markers.py"], ["tests/test_pipeline.py"]]),
    **{f"markers.{name}": (f"vidaesthetic/output/markers/{name}.py", [["tests/test_markers.py"], ["tests/test_pipeline.py"]])
       for name in ("base", "edl", "vtt", "otio", "chapters")},
    "timecode": ("vidaesthetic/timecode.py", [["tests/test_timecode.py", "tests/test_markers.py"],
                                              ["tests/test_plot.py", "tests/test_saliency.py"]]),
}

SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv, ast.And: ast.Or, ast.Or: ast.And, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
}
QUIET_CALLS = {"debug", "info", "warning", "warn", "log"}
"""Calls whose removal changes only messages."""


@dataclass
class Mutant:
    module: str
    line: int
    what: str
    source: str


Change = Callable[[ast.Module, ast.AST], None]


def _swap(node: ast.AST) -> Optional[Tuple[str, Change]]:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
        new = SWAPS[type(node.ops[0])]
        return f"{type(node.ops[0]).__name__} -> {new.__name__}", lambda tree, n: n.ops.__setitem__(0, new())
    if isinstance(node, (ast.BinOp, ast.BoolOp, ast.AugAssign)) and type(node.op) in SWAPS:
        new = SWAPS[type(node.op)]
        return f"{type(node.op).__name__} -> {new.__name__}", lambda tree, n: setattr(n, "op", new())
    return None


def _number(node: ast.AST) -> Optional[Tuple[str, Change]]:
    if not isinstance(node, ast.Constant) or isinstance(node.value, str):
        return None
    value = node.value
    if isinstance(value, bool):
        new = not value
    elif isinstance(value, int):
        new = value + 1
    elif isinstance(value, float):
        new = value * 2 if value else 1.0
    else:
        return None
    return f"{value!r} -> {new!r}", lambda tree, n: setattr(n, "value", new)


def _not(node: ast.AST) -> Optional[Tuple[str, Change]]:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
        return "drop not", lambda tree, n: _replace_node(tree, n, n.operand)
    return None


def _dropped_call(node: ast.AST) -> Optional[Tuple[str, Change]]:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in QUIET_CALLS:
            return f"drop call {name}()", lambda tree, n: setattr(n, "value", ast.Constant(None))
    return None


OPERATORS = (_swap, _number, _not, _dropped_call)


def _skipped_nodes(tree: ast.Module) -> set:
    """Docstrings, annotations and log calls: mutating them changes no behaviour."""
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skipped.add(id(body[0]))
        for annotation in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if annotation is not None:
                skipped.update(id(n) for n in ast.walk(annotation))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in QUIET_CALLS:
            skipped.update(id(n) for n in ast.walk(node))
    return skipped


def mutants_of(module: str) -> Iterator[Mutant]:
    """Every single-point change of ``module``; the walk order of the AST identifies the node to change."""
    tree = ast.parse((ROOT / TARGETS[module][0]).read_text(encoding="utf-8"))
    skipped = _skipped_nodes(tree)
    for position, node in enumerate(ast.walk(tree)):
        if id(node) in skipped:
            continue
        for operator in OPERATORS:
            found = operator(node)
            if found is None:
                continue
            what, change = found
            mutated = copy.deepcopy(tree)
            change(mutated, list(ast.walk(mutated))[position])
            yield Mutant(module, node.lineno, what, ast.unparse(ast.fix_missing_locations(mutated)))


def _replace_node(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
            elif isinstance(value, list):
                value[:] = [new if item is old else item for item in value]


def run_mutant(mutant: Mutant, timeout: float) -> str:
    """'killed', 'survived' or 'timeout' (an endless loop counts as caught)."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as scratch:
        copy_root = Path(scratch) / ROOT.name
        shutil.copytree(ROOT, copy_root, ignore=shutil.ignore_patterns(".git", "*.egg-info", "__pycache__", ".*"))
        if (ROOT.parent / "shared").is_dir():  # the real clips, where tests look for them
            os.symlink(ROOT.parent / "shared", Path(scratch) / "shared")
        (copy_root / TARGETS[mutant.module][0]).write_text(mutant.source, encoding="utf-8")
        environment = {**os.environ, "PYTHONPATH": str(copy_root), "PYTHONDONTWRITEBYTECODE": "1"}
        for tests in TARGETS[mutant.module][1]:  # the slower tests run only when the quick ones pass
            command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
            try:
                result = subprocess.run(command, cwd=copy_root, env=environment, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return "timeout"
            if result.returncode != 0:
                return "killed"
        return "survived"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help=f"modules to mutate, from {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at a time")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before a mutant's tests count as hung")
    parser.add_argument("--min-kill", type=float, default=0.9, help="kill rate below which the exit code is 1")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    options = parser.parse_args()
    unknown = set(options.modules) - set(TARGETS)
    if unknown:
        parser.error(f"unknown module(s): {', '.join(sorted(unknown))}")
    mutants = [mutant for module in options.modules or TARGETS for mutant in mutants_of(module)]
    if options.list:
        for mutant in mutants:
            print(f"{TARGETS[mutant.module][0]}:{mutant.line}: {mutant.what}")
        print(f"{len(mutants)} mutants")
        return 0
    for module in dict.fromkeys(mutant.module for mutant in mutants):
        original = (ROOT / TARGETS[module][0]).read_text(encoding="utf-8")
        if run_mutant(Mutant(module, 0, "none", original), options.timeout) != "survived":
            print(f"the tests of {module} fail without any mutation: fix them first", file=sys.stderr)
            return 2
    caught: Dict[str, List[int]] = {}
    outcomes = []
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        for mutant, outcome in zip(mutants, pool.map(lambda mutant: run_mutant(mutant, options.timeout), mutants)):
            outcomes.append(outcome)
            counts = caught.setdefault(mutant.module, [0, 0])
            counts[0] += outcome != "survived"
            counts[1] += 1
            if outcome == "survived":
                print(f"survived  {TARGETS[mutant.module][0]}:{mutant.line}: {mutant.what}", flush=True)
    for module, (killed, total) in caught.items():
        print(f"{module:10s} {killed}/{total} killed ({killed / total:.0%})")
    killed = sum(outcome != "survived" for outcome in outcomes)
    rate = killed / len(mutants) if mutants else 1.0
    print(f"total      {killed}/{len(mutants)} killed ({rate:.1%})")
    return 0 if rate >= options.min_kill else 1


if __name__ == "__main__":
    sys.exit(main())
