"""The public API of ``actors``, ``supervisor`` and ``spawn`` against its checked-in snapshot.

``tests/public_api.json`` records every name in each package's ``__all__``: its
kind, the signature of a callable, and for a class its public members (with
their kinds and signatures) and its public ancestors. The test fails when a
recorded name or member disappears, changes kind, or when a signature changes
in a way that can break a caller; additions are allowed (see :func:`compare`
for the rule).

After a deliberate change of the API, rewrite the file and review its diff::

    .venv/bin/python -m tests.test_public_api --write

Without ``--write`` the same command prints the differences: the
incompatibilities, then the additions (for a changelog or a note).
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import json
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PACKAGES = ("actors", "spawn", "supervisor")
SNAPSHOT = Path(__file__).with_name("public_api.json")

Entry = dict[str, Any]
Snapshot = dict[str, dict[str, Entry]]  # package -> public name -> entry

#: Classes users never build themselves: their constructors are not API (what makes each).
MADE_BY_THE_LIBRARY = {
    "actors.Caller": "the runtime, one per call",
    "actors.ExitWatch": "Runtime.watch",
    "actors.Runtime": "open_runtime",
    "spawn.Pool": "open_pool",
    "spawn.Worker": "start_worker and Pool.lease",
    "supervisor.ChildAddress": "SupervisorHandle.child",
    "supervisor.SupervisorHandle": "open_tree and SupervisorHandle.supervisor",
    "supervisor.SqliteStore": "open_sqlite_store",
}

POSITIONAL = {"POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD"}
VARIADIC = {"VAR_POSITIONAL", "VAR_KEYWORD"}


# -- building the snapshot from the live packages ------------------------------------


def build() -> Snapshot:
    """The snapshot of the live packages, in the form of ``tests/public_api.json``."""
    modules = [importlib.import_module(name) for name in PACKAGES]
    public = {
        id(getattr(module, name)): f"{module.__name__}.{name}"
        for module in modules
        for name in module.__all__
    }
    return {
        module.__name__: {
            name: describe(getattr(module, name), public) for name in sorted(module.__all__)
        }
        for module in modules
    }


def describe(obj: object, public: dict[int, str]) -> Entry:
    """The entry of one public name: its kind, and a signature, members and ancestors."""
    if inspect.isclass(obj):
        return {
            "kind": "class",
            "bases": sorted(_public_bases(obj, public)),
            "members": dict(sorted(_members(obj, made=public.get(id(obj)) in MADE_BY_THE_LIBRARY))),
        }
    if isinstance(obj, types.UnionType | types.GenericAlias) or typing.get_origin(obj):
        return {"kind": "type alias"}
    if callable(obj):
        kind = "async function" if inspect.iscoroutinefunction(obj) else "function"
        return {"kind": kind, **signature_entry(obj)}
    return {"kind": "constant", "type": _type_name(type(obj), public)}


def signature_entry(fn: Callable[..., Any]) -> Entry:
    """``signature`` as ``str(inspect.signature(fn))`` and as parameters, private ones left out.

    A parameter whose name starts with ``_`` is private (``Runtime.spawn(_link=...)``).
    Annotations are kept as the text ``inspect`` gives, never evaluated.
    """
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if not p.name.startswith("_")]
    sig = sig.replace(parameters=params)
    entry: Entry = {
        "signature": str(sig),
        "parameters": [_parameter(p) for p in params],
    }
    if sig.return_annotation is not inspect.Signature.empty:
        entry["returns"] = inspect.formatannotation(sig.return_annotation)
    return entry


def _parameter(param: inspect.Parameter) -> Entry:
    entry: Entry = {"name": param.name, "kind": param.kind.name}
    if param.annotation is not inspect.Parameter.empty:
        entry["annotation"] = inspect.formatannotation(param.annotation)
    if param.default is not inspect.Parameter.empty:
        entry["default"] = repr(param.default)
    return entry


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in PACKAGES


def _type_name(cls: type, public: dict[int, str]) -> str:
    """A class by the name users know it by: its export, else ``module.qualname``."""
    if id(cls) in public:
        return public[id(cls)]
    return "(private)" if _ours(cls) else f"{cls.__module__}.{cls.__qualname__}"


def _public_bases(cls: type, public: dict[int, str]) -> Iterator[str]:
    """Its ancestors a user may rely on (``except TimeoutError``): ours by export, and stdlib."""
    for base in cls.__mro__[1:]:
        if base is not object and (not _ours(base) or id(base) in public):
            yield _type_name(base, public)


def _defined_by(cls: type, name: str) -> type | None:
    """The first class in ``cls``'s MRO that defines or annotates ``name``."""
    for klass in cls.__mro__:
        if name in vars(klass) or name in vars(klass).get("__annotations__", {}):
            return klass
    return None


def _members(cls: type, *, made: bool = False) -> Iterator[tuple[str, Entry]]:
    """Public members defined by the class or by a base of ours (not by builtins or enum).

    The names ``dir`` shows, those only annotated or in ``__slots__``, and ``__init__``
    (unless the library ``made`` every instance: see :data:`MADE_BY_THE_LIBRARY`).
    """
    names = set(dir(cls)) | {"__init__"}
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        names |= {
            *vars(klass).get("__annotations__", {}),
            *([slots] if isinstance(slots, str) else slots),
        }
    for name in names:
        owner = _defined_by(cls, name)
        wanted = not made if name == "__init__" else not name.startswith("_")
        if wanted and owner and _ours(owner):
            yield name, _member(cls, name)


def _member(cls: type, name: str) -> Entry:
    raw = inspect.getattr_static(cls, name, None)
    if isinstance(cls, enum.EnumMeta) and name in cls.__members__:
        return {"kind": "enum member"}
    if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
        return {"kind": "field"}
    if isinstance(raw, staticmethod):
        return {"kind": "staticmethod", **signature_entry(raw.__func__)}
    if isinstance(raw, classmethod):
        return {"kind": "classmethod", **signature_entry(getattr(cls, name))}
    if isinstance(raw, property):
        return {"kind": "property"}
    if inspect.isfunction(raw):
        kind = "async method" if inspect.iscoroutinefunction(raw) else "method"
        return {"kind": kind, **signature_entry(raw)}
    if inspect.isclass(raw):
        return {"kind": "class"}
    return {"kind": "attribute"}


# -- the file ---------------------------------------------------------------------------


ENTRY_KEYS = ("kind", "type", "bases", "signature", "returns", "parameters", "members")
PARAMETER_KEYS = ("name", "kind", "annotation", "default")


def dumps(snapshot: Snapshot) -> str:
    """The file's text: names sorted, keys in one order, each parameter on one line."""
    canonical = {
        package: {name: _canonical(names[name]) for name in sorted(names)}
        for package, names in sorted(snapshot.items())
    }
    return _format(canonical, 0) + "\n"


def _canonical(entry: Entry) -> Entry:
    out = {key: entry[key] for key in ENTRY_KEYS if key in entry}
    if "bases" in out:
        out["bases"] = sorted(out["bases"])
    if "parameters" in out:
        out["parameters"] = [
            {key: param[key] for key in PARAMETER_KEYS if key in param}
            for param in out["parameters"]
        ]
    if "members" in out:
        members = out["members"]
        out["members"] = {name: _canonical(members[name]) for name in sorted(members)}
    return out


def _format(value: object, depth: int) -> str:
    """JSON with two-space indents, where a container of plain values takes one line."""
    items: list[tuple[str, object]]
    if isinstance(value, dict):
        items, brackets = [(f"{json.dumps(k)}: ", v) for k, v in value.items()], "{}"
    elif isinstance(value, list):
        items, brackets = [("", item) for item in value], "[]"
    else:
        items, brackets = [], ""
    if not any(isinstance(child, dict | list) for _, child in items):
        return json.dumps(value, ensure_ascii=False)
    pad = "  " * (depth + 1)
    lines = [f"{pad}{key}{_format(child, depth + 1)}" for key, child in items]
    return brackets[0] + "\n" + ",\n".join(lines) + "\n" + "  " * depth + brackets[1]


def load(path: Path = SNAPSHOT) -> Snapshot:
    snapshot: Snapshot = json.loads(path.read_text())
    return snapshot


# -- the comparison ----------------------------------------------------------------------


def compare(old: Snapshot, new: Snapshot) -> tuple[list[str], list[str]]:
    """The incompatibilities of ``new`` with ``old``, and what ``new`` adds.

    Incompatible: a recorded name or member is gone or changed kind, a recorded
    public ancestor is gone, or a signature changed so that a call that worked
    may fail. A signature stays compatible when every recorded parameter is
    still there with the same name, kind, position among the positional ones,
    default and annotation text, the return annotation text is the same, and
    every new parameter is keyword-only with a default, positional with a
    default after the recorded positional ones, ``*args`` or ``**kwargs``.
    """
    broken: list[str] = []
    added: list[str] = []
    for package in sorted(old.keys() | new.keys()):
        _compare_names(package, old.get(package, {}), new.get(package, {}), broken, added)
    return broken, added


def _compare_names(
    prefix: str, old: dict[str, Entry], new: dict[str, Entry], broken: list[str], added: list[str]
) -> None:
    """Compare the names of a package, or the members of a class, one by one."""
    for name in sorted(old.keys() | new.keys()):
        where = f"{prefix}.{name}"
        if name not in new:
            broken.append(f"{where}: removed")
        elif name not in old:
            added.append(f"{where}: new {new[name]['kind']}")
        else:
            _compare_entry(where, old[name], new[name], broken, added)


def _compare_entry(where: str, old: Entry, new: Entry, broken: list[str], added: list[str]) -> None:
    if old["kind"] != new["kind"]:
        broken.append(f"{where}: kind {old['kind']} -> {new['kind']}")
        return
    if old.get("type") != new.get("type"):
        broken.append(f"{where}: was of type {old.get('type')}, now {new.get('type')}")
    for base in old.get("bases", []):
        if base not in new.get("bases", []):
            broken.append(f"{where}: no longer a subclass of {base}")
    if "parameters" in old:
        _compare_signature(where, old, new, broken, added)
    _compare_names(where, old.get("members", {}), new.get("members", {}), broken, added)


def _compare_signature(
    where: str, old: Entry, new: Entry, broken: list[str], added: list[str]
) -> None:
    problems: list[str] = []
    old_params = {p["name"]: p for p in old["parameters"]}
    new_params = {p["name"]: p for p in new["parameters"]}
    old_positional = [p["name"] for p in old["parameters"] if p["kind"] in POSITIONAL]
    new_positional = [p["name"] for p in new["parameters"] if p["kind"] in POSITIONAL]
    for name, param in old_params.items():
        now = new_params.get(name)
        if now is None:
            problems.append(f"parameter {name!r} removed")
            continue
        for field in ("kind", "default", "annotation"):
            if param.get(field) != now.get(field):
                problems.append(
                    f"parameter {name!r}: {field} {_show(param, field)} -> {_show(now, field)}"
                )
        if name in old_positional and name in new_positional:
            was, now_at = old_positional.index(name), new_positional.index(name)
            if was != now_at:
                problems.append(f"parameter {name!r}: position {was} -> {now_at}")
    for name, param in new_params.items():
        if name in old_params:
            continue
        if _may_be_added(param, name, new_positional, len(old_positional)):
            added.append(f"{where}: new parameter {name!r}")
        else:
            problems.append(
                f"new parameter {name!r} ({param['kind']}"
                f"{'' if 'default' in param else ', no default'}) can break a call: a new "
                "parameter is keyword-only with a default, positional with a default after "
                "the recorded ones, *args or **kwargs"
            )
    if old.get("returns") != new.get("returns"):
        problems.append(f"return annotation {old.get('returns')} -> {new.get('returns')}")
    for problem in problems:
        broken.append(
            f"{where}: {problem} (signature was {old['signature']}, now {new['signature']})"
        )


def _may_be_added(param: Entry, name: str, positional: list[str], recorded: int) -> bool:
    kind = param["kind"]
    if kind in VARIADIC:
        return True
    if "default" not in param:
        return False
    return kind == "KEYWORD_ONLY" or positional.index(name) >= recorded


def _show(param: Entry, field: str) -> str:
    return str(param[field]) if field in param else f"(no {field})"


# -- the tests --------------------------------------------------------------------------


def test_the_live_api_is_compatible_with_the_snapshot() -> None:
    broken, added = compare(load(), build())
    if added:
        print("additions to the public API (not yet in tests/public_api.json):")
        print("\n".join(f"  {line}" for line in added))
    assert not broken, (
        "incompatible changes to the public API (if deliberate, run "
        "`python -m tests.test_public_api --write` and review the diff):\n" + "\n".join(broken)
    )


def test_the_snapshot_file_is_in_its_canonical_form() -> None:
    """Sorted and formatted as --write writes it, so that its diffs show only real changes."""
    assert SNAPSHOT.read_text() == dumps(load())


def test_every_name_a_package_reexports_is_in_its_all() -> None:
    """A name re-exported (``from ._ref import NamedRef as NamedRef``) is public: it is listed."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        tree = ast.parse(inspect.getsource(module))
        exported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1
            for alias in node.names
        }
        assert exported <= set(module.__all__), (
            f"{package}: {sorted(exported - set(module.__all__))}"
        )


def test_private_parameters_are_left_out() -> None:
    spawn = build()["actors"]["Runtime"]["members"]["spawn"]
    assert "_link" not in spawn["signature"]
    assert [p["name"] for p in spawn["parameters"]][:2] == ["self", "cls"]


def test_constructors_of_what_the_library_makes_are_left_out() -> None:
    snapshot = build()
    assert "__init__" not in snapshot["spawn"]["Pool"]["members"]
    assert "__init__" not in snapshot["actors"]["Runtime"]["members"]
    assert "__init__" in snapshot["spawn"]["Channel"]["members"]


# Small hand-made snapshots: the comparison can fail, and fails where it should.


def _api(**entries: Entry) -> Snapshot:
    return {"pkg": entries}


def _fn(fn: Callable[..., Any]) -> Entry:
    return {"kind": "function", **signature_entry(fn)}


def _one_problem(old: Snapshot, new: Snapshot) -> str:
    broken, _ = compare(old, new)
    assert len(broken) == 1, broken
    return broken[0]


def test_a_removed_name_fails() -> None:
    def f() -> None: ...

    assert _one_problem(_api(f=_fn(f), g=_fn(f)), _api(f=_fn(f))) == "pkg.g: removed"


def test_a_changed_default_fails() -> None:
    def old(a: int, b: int = 1) -> None: ...

    def new(a: int, b: int = 2) -> None: ...

    problem = _one_problem(_api(f=_fn(old)), _api(f=_fn(new)))
    assert "parameter 'b': default 1 -> 2" in problem


def test_a_changed_annotation_or_return_annotation_fails() -> None:
    def old(a: int) -> int:
        return a

    def new(a: str) -> str:
        return a

    broken, _ = compare(_api(f=_fn(old)), _api(f=_fn(new)))
    assert [line.split(" (signature was ")[0] for line in broken] == [
        "pkg.f: parameter 'a': annotation 'int' -> 'str'",
        "pkg.f: return annotation 'int' -> 'str'",
    ]


def test_an_added_keyword_parameter_with_a_default_passes_and_is_listed() -> None:
    def old(a: int, *, b: int = 1) -> None: ...

    def new(a: int, *, b: int = 1, c: int = 3) -> None: ...

    assert compare(_api(f=_fn(old)), _api(f=_fn(new))) == ([], ["pkg.f: new parameter 'c'"])


def test_added_positional_with_default_and_varargs_pass() -> None:
    def old(a: int) -> None: ...

    def new(a: int, b: int = 0, *args: int, **kwargs: int) -> None: ...

    broken, added = compare(_api(f=_fn(old)), _api(f=_fn(new)))
    assert broken == []
    assert len(added) == 3


def test_a_new_parameter_without_default_or_before_the_recorded_ones_fails() -> None:
    def old(a: int, *, b: int = 1) -> None: ...

    def required(a: int, *, b: int = 1, c: int) -> None: ...

    def inserted(z: int = 0, a: int = 0, *, b: int = 1) -> None: ...

    assert "new parameter 'c' (KEYWORD_ONLY, no default)" in _one_problem(
        _api(f=_fn(old)), _api(f=_fn(required))
    )
    broken, _ = compare(_api(f=_fn(old)), _api(f=_fn(inserted)))
    assert any("new parameter 'z'" in line for line in broken)
    assert any("parameter 'a': position 0 -> 1" in line for line in broken)


def test_reordered_positional_parameters_fail() -> None:
    def old(a: int, b: int) -> None: ...

    def new(b: int, a: int) -> None: ...

    broken, _ = compare(_api(f=_fn(old)), _api(f=_fn(new)))
    assert len(broken) == 2
    assert "parameter 'a': position 0 -> 1" in broken[0]


def test_a_positional_parameter_made_keyword_only_fails() -> None:
    def old(a: int, b: int = 1) -> None: ...

    def new(a: int, *, b: int = 1) -> None: ...

    problem = _one_problem(_api(f=_fn(old)), _api(f=_fn(new)))
    assert "parameter 'b': kind POSITIONAL_OR_KEYWORD -> KEYWORD_ONLY" in problem


def test_a_removed_member_a_changed_kind_and_a_lost_ancestor_fail() -> None:
    class Old(LookupError):
        def run(self) -> None: ...

        def stop(self) -> None: ...

    class New(Exception):
        @property
        def run(self) -> None: ...

    public: dict[int, str] = {}
    old: Entry = {
        "kind": "class",
        "bases": sorted(_public_bases(Old, public)),
        "members": {name: _member(Old, name) for name in ("run", "stop")},
    }
    new: Entry = {
        "kind": "class",
        "bases": sorted(_public_bases(New, public)),
        "members": {"run": _member(New, "run")},
    }
    broken, _ = compare(_api(C=old), _api(C=new))
    assert broken == [
        "pkg.C: no longer a subclass of builtins.LookupError",
        "pkg.C.run: kind method -> property",
        "pkg.C.stop: removed",
    ]


def test_sync_to_async_is_a_change_of_kind() -> None:
    def old() -> None: ...

    async def new() -> None: ...

    entry = {"kind": "async function", **signature_entry(new)}
    assert _one_problem(_api(f=_fn(old)), _api(f=entry)) == "pkg.f: kind function -> async function"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        SNAPSHOT.write_text(dumps(build()))
        print(f"wrote {SNAPSHOT}")
        return 0
    if argv:
        print("usage: python -m tests.test_public_api [--write]", file=sys.stderr)
        return 2
    broken, added = compare(load(), build())
    for title, lines in (("incompatible", broken), ("added", added)):
        print(f"{title}: {len(lines)}")
        for line in lines:
            print(f"  {line}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
