"""The shape of the code: one owner per piece of state, fronts that only re-export, small modules.

- No private attribute of one module's class is touched from another file:
  ``obj._name`` (or ``getattr(obj, "_name")``) where ``obj`` is not ``self``,
  ``cls`` or ``super()`` must name something the same file defines (its own
  classes' attributes, slots and methods). The few exceptions are listed in
  :data:`ALLOWED`, each with its reason.
- Packages import each other only through their fronts (``from spawn import
  X``), never ``from spawn._channel import X``; tests of a package may read its
  own private modules, never another package's.
- No module of ``actors`` or ``spawn`` has 500 lines or more.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("actors", "spawn", "supervisor")
CHECKED = (*PACKAGES, "benchmarks", "examples")
MAX_LINES = 500

#: (file, expression) -> why it may reach a private name of something it does not define.
ALLOWED: dict[tuple[str, str], str] = {
    ("spawn/_bootstrap.py", "os._exit"): "the stdlib's exit without cleanup, for a failed child",
    ("benchmarks/_spawn.py", "os._exit"): "the stdlib's exit without cleanup, after a fork",
    ("spawn/_bootstrap.py", "_ctypes._SimpleCData"): "prctl through _ctypes: ctypes costs 5 ms",
    ("spawn/_msgpack.py", "_thread._local"): "threading.local without importing threading",
}


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def defined_names(tree: ast.AST) -> set[str]:
    """Private names a file defines: attributes set on self/cls, class members, slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    for target in item.targets:
                        if isinstance(target, ast.Name):
                            names.add(target.id)
                        if isinstance(target, ast.Name) and target.id == "__slots__":
                            for const in ast.walk(item.value):
                                if isinstance(const, ast.Constant) and isinstance(const.value, str):
                                    names.add(const.value)
    return {name for name in names if _is_private(name)}


def _is_own(value: ast.expr) -> bool:
    if isinstance(value, ast.Name):
        return value.id in ("self", "cls")
    call = value.func if isinstance(value, ast.Call) else None
    return isinstance(call, ast.Name) and call.id == "super"


def foreign_private_accesses(path: Path) -> list[tuple[int, str]]:
    """``(line, expression)`` for each private name ``path`` reaches on something else."""
    tree = ast.parse(path.read_text(), str(path))
    own = defined_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            if not _is_own(node.value) and node.attr not in own:
                found.append((node.lineno, ast.unparse(node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _is_private(node.args[1].value)
            and node.args[1].value not in own
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_private_attribute_is_touched_from_another_file() -> None:
    offences = []
    used = set()
    for path in python_files("actors", "spawn", "supervisor", "benchmarks"):
        name = path.relative_to(ROOT).as_posix()
        for line, expression in foreign_private_accesses(path):
            if (name, expression) in ALLOWED:
                used.add((name, expression))
            else:
                offences.append(f"{name}:{line}: {expression}")
    assert not offences, "private names reached from another file:\n" + "\n".join(offences)
    assert used == set(ALLOWED), f"allowlist entries no longer needed: {set(ALLOWED) - used}"
    assert len(ALLOWED) <= 25


def test_the_private_access_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "class A:\n"
        "    def __init__(self):\n"
        "        self._mine = 1\n"
        "    def peek(self, other):\n"
        "        return other._mine, other._theirs, getattr(other, '_hidden')\n"
    )
    found = [expression for _, expression in foreign_private_accesses(sample)]
    assert found == ["other._theirs", "getattr(other, '_hidden')"]


def _private_imports(path: Path) -> list[str]:
    """``package._module`` imports of our packages in ``path`` (absolute imports only)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module in PACKAGES:
                modules += [f"{node.module}.{alias.name}" for alias in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] in PACKAGES and any(_is_private(part) for part in parts[1:]):
                found.append(module)
    return found


@pytest.mark.parametrize("folder", CHECKED)
def test_packages_import_each_other_through_their_fronts(folder: str) -> None:
    wrong = []
    for path in python_files(folder):
        for module in _private_imports(path):
            if module.split(".")[0] != folder:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_tests_read_only_their_own_package_internals() -> None:
    wrong = []
    for path in python_files("tests"):
        parts = path.relative_to(ROOT / "tests").parts
        home = parts[0] if len(parts) > 1 and parts[0] in PACKAGES else None
        for module in _private_imports(path):
            if module.split(".")[0] != home:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", ["actors", "spawn"])
def test_modules_stay_small(package: str) -> None:
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
        for path in python_files(package)
    }
    large = {name: lines for name, lines in sizes.items() if lines >= MAX_LINES}
    assert not large, f"modules of {MAX_LINES} lines or more: {large}"
