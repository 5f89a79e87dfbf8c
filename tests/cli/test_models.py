"""``sparsegraph models``."""

import json

from click.testing import CliRunner

from sparsegraph.models import describe_model, list_models
from sparsegraph_cli.main import main


def test_table_lists_every_zoo_model():
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "description"]
    assert [line.split()[0] for line in lines[2:]] == list_models()


def test_json_lists_names_and_descriptions():
    result = CliRunner().invoke(main, ["models", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows == [{"name": n, "description": describe_model(n)} for n in list_models()]
