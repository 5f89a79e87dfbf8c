import json

from click.testing import CliRunner

import sparsegraph
from sparsegraph_cli.main import main


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sparsegraph, version {sparsegraph.__version__}"


def test_env_json_lists_packages_and_devices():
    result = CliRunner().invoke(main, ["env", "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    import torch

    assert info["packages"]["torch"] == torch.__version__.split("+")[0] or info["packages"]["torch"].startswith(
        torch.__version__.split("+")[0])
    assert info["cuda_available"] == torch.cuda.is_available()
    assert "matplotlib" in info["optional"]


def test_env_table_is_a_bug_report_block():
    result = CliRunner().invoke(main, ["env"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("python ")
    assert "CUDA available" in result.output
