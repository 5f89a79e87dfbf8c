"""Optional packages: checked before any work starts, so a missing one never costs a run's results."""

from __future__ import annotations

import importlib.util

from sparsegraph.errors import UsageError

#: optional package -> the setup.cfg extra that installs it
EXTRAS = {"matplotlib": "plot", "ray": "ray", "pandas": None}


def is_installed(package: str) -> bool:
    """Whether ``package`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def require(package: str, purpose: str) -> None:
    """Fail with one line naming the extra to install when ``package`` is missing.

    Args:
        package: the import name (``matplotlib``).
        purpose: what needs it, as the user asked for it (``"--plot"``).

    Raises:
        UsageError: ``"<purpose> needs <package>: pip install 'sparsegraph[<extra>]'"``.
    """
    if is_installed(package):
        return
    extra = EXTRAS.get(package)
    how = f"pip install 'sparsegraph[{extra}]' (or pip install {package})" if extra else f"pip install {package}"
    raise UsageError(f"{purpose} needs {package}, which is not installed: {how}")
