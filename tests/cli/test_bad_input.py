"""Every command refuses bad input with one line on stderr and exit code 2 (usage) or 3 (bad input),
never a traceback."""

import pytest
from click.testing import CliRunner

from sparsegraph_cli.main import main


@pytest.fixture
def files(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    (tmp_path / "junk.npz").write_bytes(b"not an npz file")
    (tmp_path / "empty").mkdir()
    return tmp_path


CASES = [
    # (arguments, expected exit code, text the one line contains); {tmp} is the fixture folder
    (["models", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["metrics", "--format", "xml"], 2, "Invalid value for '--format'"),
    (["env", "--format", "csv"], 2, "Invalid value for '--format'"),
    (["nosuchcommand"], 2, "No such command 'nosuchcommand'"),
    (["masks", "{tmp}/junk.safetensors"], 3, "junk.safetensors"),
    (["graph", "{tmp}/junk.npz"], 3, "junk.npz"),
    (["masks", "{tmp}/missing.npz"], 3, "missing.npz"),
    (["measure", "--model", "nosuchnet", "--masks-from-zeros", "--metrics", "density"], 3,
     "unknown model 'nosuchnet'"),
    (["measure", "--model", "mlp", "--masks", "{tmp}/junk.npz", "--metrics", "density"], 3, "junk.npz"),
    (["measure", "--model", "mlp", "--masks-from-zeros", "--metrics", "densty"], 2, "did you mean 'density'"),
    (["measure", "--model", "mlp", "--masks-from-zeros", "--metrics", "density", "--device", "tpu"], 2,
     "device"),
    (["export", "--model", "mlp", "--masks", "{tmp}/junk.npz", "--encoding", "rolled", "--format", "npz", "-o",
      "{tmp}/g.npz"], 3, "junk.npz"),
    (["export", "--model", "nosuchnet", "--encoding", "rolled", "--format", "npz", "-o", "{tmp}/g.npz"], 3,
     "unknown model"),
    (["prune", "--model", "mlp", "--dataset", "digits", "--method", "snp", "--density", "0.1", "-o",
      "{tmp}/run"], 2, "did you mean 'snip'"),
    (["prune", "--model", "mlp", "--dataset", "nosuchdata", "--method", "random", "--density", "0.1", "-o",
      "{tmp}/run"], 3, "unknown dataset 'nosuchdata'"),
    (["prune", "--model", "mlp", "--dataset", "digits", "--method", "random", "--density", "1.5", "-o",
      "{tmp}/run"], 2, "density"),
    (["prune", "--model", "mlp", "--dataset", "digits", "--method", "random", "-o", "{tmp}/run"], 2,
     "exactly one of density and sparsity"),
    (["study", "run", "--model", "mlp", "--dataset", "digits", "--methods", "snp", "--sparsities", "0.5",
      "-o", "{tmp}/study"], 2, "did you mean 'snip'"),
    (["study", "analyze", "{tmp}/empty"], 3, "empty"),
]


@pytest.mark.parametrize("args, code, text", CASES, ids=[" ".join(c[0][:2]) + f"-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_line_and_an_exit_code(files, args, code, text):
    result = CliRunner().invoke(main, [a.replace("{tmp}", str(files)) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    lines = result.stderr.strip().splitlines()
    assert (result.exit_code, len(lines)) == (code, 1), result.stderr
    assert lines[0].startswith("Error: ") and text in lines[0] and "Traceback" not in result.output
