"""Lazy module attributes (PEP 562): a package's public names are imported from the modules that define
them on first access, so importing the package stays cheap (no torch, no optional graph libraries)."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Collection, Mapping


def lazy_attributes(package: str, exports: Mapping[str, str], submodules: Collection[str] = ()
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package``.

    Args:
        package: the package's ``__name__``.
        exports: public name -> module that defines it.
        submodules: subpackage names that ``__getattr__`` imports on access (``package.<name>``).

    Returns:
        ``(__getattr__, __dir__)``, to be assigned at the package's top level.
    """

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        namespace = vars(sys.modules[package])
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
