"""Every ```python block of README.md and docs/**/*.md runs as written (issue 18.6).

Each page runs in a fresh interpreter in an empty folder (registrations such as a plugin metric do not leak
into other tests), its blocks in page order. An HTML comment right before a block's fence adjusts it:

* ``<!-- docs-test: continue -->``: the block continues the previous one (same variables);
* ``<!-- docs-test: slow -->``: run only with ``-m slow``;
* ``<!-- docs-test: cuda -->``: needs a CUDA device;
* ``<!-- docs-test: needs cifar10 -->``: needs that dataset's files under the data root;
* ``<!-- docs-test: setup=CODE -->``: CODE runs first, unseen, for files the page assumes exist
  (``masks.safetensors`` from an earlier command).

A block whose first line is ``# path/to/module.py`` is also written to that file and imported from it, as
a reader who saves it would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"(?:<!-- docs-test: (?P<opts>[^\n]*?) -->\n)?^```python\n(?P<code>.*?)^```", re.S | re.M)
FILE_HEADER = re.compile(r"#\s*(?P<path>[\w/]+\.py)\s*$")


def blocks(page: Path) -> list[dict]:
    text = page.read_text()
    found = []
    for match in BLOCK.finditer(text):
        opts = match.group("opts") or ""
        found.append({"line": text[:match.start("code")].count("\n"), "code": match.group("code"),
                      "continue": "continue" in opts.split(), "slow": "slow" in opts.split(),
                      "cuda": "cuda" in opts.split(),
                      "needs": re.findall(r"needs (\S+)", opts),
                      "setup": opts.split("setup=", 1)[1] if "setup=" in opts else None})
    return found


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _dataset_present(name: str) -> bool:
    from sparsegraph.data import load_tensors

    try:
        load_tensors(name, "test")
    except Exception:
        return False
    return True


def _cases():
    for page in PAGES:
        found = blocks(page)
        if not found:
            continue
        rel = page.relative_to(ROOT).as_posix()
        for slow in (False, True):
            chosen = [b for b in found if b["slow"] == slow]
            if chosen:
                marks = [pytest.mark.slow] if slow else []
                yield pytest.param(rel, slow, marks=marks, id=f"{rel}{'-slow' if slow else ''}")


@pytest.mark.parametrize("page, slow", list(_cases()))
def test_docs_python_blocks_run_as_written(page, slow, tmp_path):
    found = blocks(ROOT / page)
    # a slow block runs with the blocks it continues from
    run, skipped = [], []
    for i, block in enumerate(found):
        if block["slow"] != slow:
            continue
        chain = [block]
        j = i
        while found[j]["continue"] and j > 0:
            j -= 1
            chain.insert(0, found[j])
        reason = ("needs CUDA" if any(b["cuda"] for b in chain) and not _cuda() else
                  next((f"needs the {n} files" for b in chain for n in b["needs"] if not _dataset_present(n)), None))
        if reason:
            skipped.append(f"{page}:{block['line']} ({reason})")
            continue
        run.append(chain)
    if not run:
        pytest.skip("; ".join(skipped))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), str(tmp_path)]),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps(run))
    done = subprocess.run([sys.executable, __file__, str(spec), page], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def _run_chains(spec: str, page: str) -> int:
    """The subprocess: run each chain of blocks in its own namespace; report every failing block."""
    import importlib
    import traceback

    failures = 0
    for chain in json.loads(Path(spec).read_text()):
        namespace: dict = {"__name__": "__main__"}
        setups_run: set[int] = set()
        for block in chain:
            try:
                if block["setup"] and block["line"] not in setups_run:
                    exec(compile(block["setup"], f"{page}:{block['line']} (setup)", "exec"), {"__name__": "setup"})
                    setups_run.add(block["line"])
                header = FILE_HEADER.match(block["code"].splitlines()[0])
                if header:
                    path = Path(header.group("path"))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    for parent in path.parents:
                        if parent != Path(".") and not (parent / "__init__.py").exists():
                            (parent / "__init__.py").write_text("")
                    path.write_text(block["code"])
                    if not path.name.startswith("test_") and path.parts[0] != "tests":
                        importlib.invalidate_caches()
                        module = importlib.import_module(".".join(path.with_suffix("").parts))
                        namespace.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
                        continue
                before = dict(namespace)
                exec(compile(block["code"], f"{page}:{block['line']}", "exec"), namespace)
                for name, value in list(namespace.items()):  # test functions the block defines are run
                    if name.startswith("test_") and callable(value) and before.get(name) is not value:
                        value()
            except Exception:
                failures += 1
                print(f"--- {page}:{block['line']} failed", flush=True)
                traceback.print_exc()
                break
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(_run_chains(sys.argv[1], sys.argv[2]))
