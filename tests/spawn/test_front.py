"""``spawn``'s front: ``__all__``, the lazy table, the eager and TYPE_CHECKING imports agree."""

from __future__ import annotations

import ast
import importlib

import spawn
from tests.support import ROOT, run_python

INIT = ROOT / "spawn" / "__init__.py"


def parts() -> tuple[list[str], dict[str, str], dict[str, str], dict[str, str]]:
    """``__all__``; the lazy table; the eager imports and those under TYPE_CHECKING
    (name -> module), read from the file itself."""
    tree = ast.parse(INIT.read_text(), str(INIT))
    names: list[str] = []
    lazy: dict[str, str] = {}
    eager: dict[str, str] = {}
    typing: dict[str, str] = {}

    def imports(body: list[ast.stmt], into: dict[str, str]) -> None:
        for node in body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                for alias in node.names:
                    assert alias.asname == alias.name, f"{alias.name} is not re-exported as itself"
                    into[alias.name] = f".{node.module}"

    imports(tree.body, eager)
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            assert node.test.id == "TYPE_CHECKING"
            imports(node.body, typing)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            if target == "__all__":
                names = ast.literal_eval(node.value)
            elif target == "_LAZY":
                lazy = ast.literal_eval(node.value)
    return names, lazy, eager, typing


def test_every_public_name_is_imported_eagerly_or_lazily_and_declared_for_typing() -> None:
    names, lazy, eager, typing = parts()
    assert len(names) == len(set(names)), "a name appears twice in __all__"
    assert set(names) == set(lazy) | set(eager), "__all__ and the imports disagree"
    assert not set(lazy) & set(eager), "a name is both lazy and eager"
    assert typing == lazy, "the TYPE_CHECKING imports and the lazy table disagree"


def test_every_lazy_name_is_that_modules_attribute() -> None:
    _, lazy, _, _ = parts()
    for name, module in lazy.items():
        value = getattr(importlib.import_module(module, "spawn"), name)
        assert getattr(spawn, name) is value, name


def test_dir_shows_the_lazy_names_before_they_are_loaded() -> None:
    code = (
        "import spawn\n"
        "assert 'Executor' not in vars(spawn), 'loaded already: the test proves nothing'\n"
        "listed = dir(spawn)\n"
        "assert 'Executor' in listed, listed\n"
        "assert set(spawn.__all__) <= set(listed)\n"
        "assert listed == sorted(listed)\n"
        "assert 'Executor' not in vars(spawn), 'dir() loaded it'\n"
    )
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr
    assert "Executor" in dir(spawn)
