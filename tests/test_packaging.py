"""The package list in setup.cfg matches the tree; the library never imports click."""

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_every_package():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "sparsegraph").rglob("__init__.py")
    }
    found.add("sparsegraph_cli")
    assert listed == found


def test_import_does_not_import_click():
    code = "import sys, sparsegraph; assert 'click' not in sys.modules; print(sparsegraph.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip()
