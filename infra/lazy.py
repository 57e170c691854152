"""Lazy re-exports for a package's ``__init__`` (PEP 562).

A package's public names are importable from the package itself (``from runners import
prepare``), yet importing the package loads none of its modules: a reader of tables (the
dashboard, a scaling report) does not pay for torch because a package it touches
re-exports a training loop. Each name is imported from its module on first use.

>>> import sys
>>> getattr_, dir_ = lazy_exports("infra", {"mean_interval": "infra.statistics"})
>>> getattr_("mean_interval").__name__
'mean_interval'
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import each of ``exports`` (name ->
    module) on first access and keep it in the package's namespace."""

    def __getattr__(name: str) -> object:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
