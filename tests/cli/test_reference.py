"""docs/cli.md is the commands' --help, regenerated; this keeps it in sync."""

from pathlib import Path

from sparsegraph_cli.main import main
from sparsegraph_cli.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_matches_help():
    assert DOC.read_text() == render_reference(main), (
        "docs/cli.md is stale: run python -m sparsegraph_cli.reference > docs/cli.md")
