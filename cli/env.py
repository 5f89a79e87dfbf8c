"""``sparsegraph env``: versions, devices and optional packages, as a block for bug reports."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

import click

from sparsegraph_cli.options import format_option
from sparsegraph_cli.output import emit, render_json

_PACKAGES = ("sparsegraph", "torch", "torchvision", "torch-geometric", "igraph", "networkx", "scipy", "numpy",
             "click", "safetensors", "tqdm")
_OPTIONAL = ("matplotlib", "pandas", "ray")


def collect_environment() -> dict:
    """Versions of Python, the dependencies and optional packages, and the visible devices."""
    import torch

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    cuda = torch.cuda.is_available()
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {name: version(name) for name in _PACKAGES},
        "optional": {name: version(name) for name in _OPTIONAL},
        "torch_cuda_build": torch.version.cuda,
        "cuda_available": cuda,
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "cpu_threads": torch.get_num_threads(),
    }
    from sparsegraph.metrics.registry import failed_plugins, loaded_plugins

    info["plugins"] = loaded_plugins()
    info["failed_plugins"] = failed_plugins()
    return info


@click.command()
@format_option(("table", "json"), "table")
def env(fmt: str) -> None:
    """Versions, devices and optional packages: a block to paste into a bug report."""
    info = collect_environment()
    if fmt == "json":
        emit(render_json(info), None)
        return
    lines = [f"python            {info['python']}", f"platform          {info['platform']}"]
    for name, ver in info["packages"].items():
        lines.append(f"{name:<17} {ver or 'not installed'}")
    for name, ver in info["optional"].items():
        lines.append(f"{name:<17} {ver or 'not installed'} (optional)")
    lines.append(f"torch CUDA build  {info['torch_cuda_build'] or 'none'}")
    lines.append(f"CUDA available    {info['cuda_available']}")
    for i, name in enumerate(info["devices"]):
        lines.append(f"cuda:{i:<12} {name}")
    lines.append(f"CPU threads       {info['cpu_threads']}")
    for plugin in info["plugins"]:
        lines.append(f"metric plugin     {plugin}")
    for failure in info["failed_plugins"]:
        lines.append(f"failed plugin     {failure}")
    emit("\n".join(lines) + "\n", None)
