"""The package surface (python/src/lib.rs and py_src/attune/__init__.py): every public name
exists, is documented, and the native classes belong to the `attune` module."""

from __future__ import annotations

import inspect

import attune
from attune import _native


def public_members(obj: object) -> list[tuple[str, object]]:
    return [(n, v) for n, v in inspect.getmembers(obj) if not n.startswith("_")]


def test_every_public_name_is_exported_and_documented() -> None:
    assert attune.__version__
    for name in attune.__all__:
        value = getattr(attune, name)
        if isinstance(value, int):
            continue
        assert inspect.getdoc(value), f"attune.{name} has no docstring"
        if inspect.isclass(value) and not issubclass(value, BaseException):
            for member, attr in public_members(value):
                assert inspect.getdoc(attr), f"attune.{name}.{member} has no docstring"


def test_native_classes_live_in_the_attune_module() -> None:
    for cls in [attune.Store, attune.Dataset, attune.Model, attune.ProgressUpdate]:
        assert cls.__module__ == "attune"
        assert getattr(_native, cls.__name__) is cls
    assert set(_native.__all__) <= set(dir(_native))


def test_versions_of_the_formats() -> None:
    assert _native.FORMAT_VERSION >= 1
    assert _native.MODEL_FORMAT_VERSION >= 1
    assert attune.MAX_INPUT_ITEMS == 500
