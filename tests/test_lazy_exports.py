"""Lazy public names (sparsegraph._lazy): each resolves to what it names, never to a same-named submodule."""

import importlib
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ["sparsegraph", "sparsegraph.pruning", "sparsegraph.study"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_lazy_export_is_shadowed_by_a_submodule(package):
    pkg = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(pkg.__path__)}
    assert not submodules & set(pkg._LAZY), "a lazy name equal to a submodule is replaced by that submodule"


def test_study_collect_is_the_function_after_its_module_was_imported():
    # the documented import, in a fresh interpreter, after something imported the submodule first
    code = ("import sparsegraph.study.collect, types; from sparsegraph.study import collect, analyze; "
            "assert callable(collect) and not isinstance(collect, types.ModuleType), collect; "
            "import sparsegraph.study as s; assert s.collect is collect")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_to_a_non_module(package):
    pkg = importlib.import_module(package)
    for name in pkg._LAZY:
        assert not isinstance(getattr(pkg, name), types.ModuleType), name
