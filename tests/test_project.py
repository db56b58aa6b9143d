"""Project-wide promises: layers point one way; the README's example runs as shown."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

from tests.support import ROOT, run_python

# Each package may import only the packages listed after it.
ALLOWED = {"spawn": set(), "actors": {"spawn"}, "supervisor": {"actors", "spawn"}}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layers_point_one_way(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong = imported_packages(path) - ALLOWED[package] - {package}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_init_only_reexports(package: str) -> None:
    tree = ast.parse((ROOT / package / "__init__.py").read_text())
    for node in tree.body:
        assert not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or (
            isinstance(node, ast.FunctionDef) and node.name in {"__getattr__", "__dir__"}
        ), f"{package}/__init__.py defines {getattr(node, 'name', node)}"


def readme_examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [textwrap.dedent(block) for block in blocks]


def test_readme_first_example_prints_what_it_says() -> None:
    done = run_python("-c", readme_examples()[0])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["42", "42"]


@pytest.mark.parametrize("index", range(len(readme_examples())))
def test_every_readme_example_runs(index: int) -> None:
    done = run_python("-c", readme_examples()[index])
    assert done.returncode == 0, done.stderr
    for line in readme_examples()[index].splitlines():
        # A comment such as "# 42" after a print says what that print shows.
        if line.strip().startswith("print(") and "  # " in line:
            expected = line.split("  # ", 1)[1].split(",")[0].split(" ")[0]
            assert expected in done.stdout, f"{line.strip()} did not print {expected}"
