import csv
import json

import pytest
from click.testing import CliRunner

from sparsegraph.errors import StudyInputError
from sparsegraph.study.collect import collect
from sparsegraph.study.report import analyze, write_outputs
from sparsegraph_cli.main import main


def _by(analysis, metric, level):
    return next(e for e in analysis.document["correlations"] if e["metric"] == metric and e["level"] == level)


def test_accuracy_as_a_known_function_of_density_correlates_at_one(synthetic_study):
    analysis = analyze(collect(synthetic_study), n_boot=200)
    assert analysis.document["counts"] == {"runs": 12, "dense": 2, "skipped": 4, "methods": ["a", "b", "c"],
                                           "sparsities": ["0.8", "0.9"]}
    for level in ("all", "0.8", "0.9"):
        entry = _by(analysis, "density", level)
        assert entry["spearman"]["value"] == pytest.approx(1.0)
        assert entry["kendall"]["value"] == pytest.approx(1.0)
        assert entry["spearman"]["ci_low"] == pytest.approx(1.0)
    assert _by(analysis, "density", "all")["pearson"]["value"] > 0.98  # sqrt: monotone, not linear
    assert _by(analysis, "density", "0.8")["n"] == 6
    for level, ranking in analysis.document["rankings"].items():
        assert [e["method"] for e in sorted(ranking["methods"], key=lambda e: e["rank"])] == ["c", "b", "a"]
        assert ranking["metrics"]["density"]["kendall_tau"] == pytest.approx(1.0)
    regression = analysis.document["regression"]
    assert regression["baseline"]["all"]["r2"] > 0.95
    assert regression["baseline"]["all"]["features"] == ["density[fc1.weight]", "density[fc2.weight]",
                                                         "density[fc3.weight]"]
    assert regression["mixture"]["features"] == ["density"] and regression["mixture"]["r2"] > 0.95


def test_accuracy_drop_uses_the_dense_run_of_the_same_seed(synthetic_study):
    analysis = analyze(collect(synthetic_study), target="accuracy_drop", n_boot=0)
    reference = {0: 0.97, 1: 0.95}
    for record, drop in zip(analysis.records, analysis.targets):
        assert drop == pytest.approx(reference[record.seed] - record.accuracy)
    assert analysis.document["reference"]["runs_with_seed_reference"] == 12
    assert analysis.document["target_higher_is_better"] is False
    ranking = analysis.document["rankings"]["0.8"]
    assert [e["method"] for e in sorted(ranking["methods"], key=lambda e: e["rank"])] == ["c", "b", "a"]
    given = analyze(collect(synthetic_study), target="accuracy_drop", dense_accuracy=0.99, n_boot=0)
    assert given.targets == pytest.approx([0.99 - r.accuracy for r in given.records])
    assert _by(given, "density", "all")["spearman"]["value"] == pytest.approx(-1.0)


def test_accuracy_drop_without_reference_and_study_without_usable_runs(synthetic_study):
    for name in ("dense_seed0", "dense_seed1"):
        (synthetic_study / name / "summary.json").unlink()
    with pytest.raises(StudyInputError, match="needs a dense reference"):
        analyze(collect(synthetic_study), target="accuracy_drop")
    for path in synthetic_study.glob("*/summary.json"):
        path.unlink()
    with pytest.raises(StudyInputError, match="no usable sparse runs"):
        analyze(collect(synthetic_study))


def test_outputs_tables_report_and_plots(synthetic_study, tmp_path):
    pytest.importorskip("matplotlib")
    analysis = analyze(collect(synthetic_study), n_boot=100)
    written = write_outputs(analysis, tmp_path / "out")
    names = {p.relative_to(tmp_path / "out").as_posix() for p in written}
    assert {"analysis.json", "records.csv", "correlations.csv", "rankings.csv", "rank_agreement.csv",
            "regression.csv", "importance.csv", "report.md", "plots/scatter_density.png",
            "plots/heatmap_density.png", "plots/correlations.png"} <= names
    for png in (tmp_path / "out" / "plots").iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 200_000
    document = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert document["format"] == "sparsegraph.study/1"
    assert document["plots"] == ["plots/scatter_density.png", "plots/heatmap_density.png", "plots/correlations.png"]
    report = (tmp_path / "out" / "report.md").read_text()
    for plot in document["plots"]:
        assert f"]({plot})" in report
    assert "| c_s0.95_seed0 | no test_at_best_val in summary.json (trained with --epochs 0?) |" in report
    with open(tmp_path / "out" / "correlations.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["metric"], r["level"]) for r in rows} == {("density", "all"), ("density", "0.8"), ("density", "0.9")}
    assert float(rows[0]["spearman"]) == pytest.approx(1.0)
    with open(tmp_path / "out" / "records.csv") as fh:
        records = list(csv.DictReader(fh))
    assert len(records) == 12 and float(records[0]["density"]) > 0


def test_cli_analyze_directory_and_bad_inputs(synthetic_study, tmp_path):
    runner = CliRunner()
    out = tmp_path / "analysis"
    result = runner.invoke(main, ["study", "analyze", str(synthetic_study), "--bootstrap", "50", "--no-plots",
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2].split()[:5] == ["density", "12", result.stdout.splitlines()[2].split()[2],
                                                        "1", "1"]
    assert "skipped 4 of 18 runs, by reason:" in result.stderr
    assert "      1  missing run directory  (c_s0.95_seed1)" in result.stderr.splitlines()
    assert (out / "report.md").exists() and not (out / "plots").exists()

    bad = tmp_path / "bad.csv"
    bad.write_text("path,acc\nx,1\n")
    result = runner.invoke(main, ["study", "analyze", str(bad)])
    assert result.exit_code == 3
    assert result.stderr.strip().count("\n") == 0 and "missing required column(s) mask_path, model, accuracy" in result.stderr
    result = runner.invoke(main, ["study", "analyze", str(synthetic_study), "--metrics", "ramanujan.nope"])
    assert result.exit_code == 2 and "unknown metric" in result.stderr


def test_study_without_sparsity_levels_or_methods_still_correlates(tmp_path, helpers):
    lines = ["mask_path,model,accuracy,dataset"]
    for i, density in enumerate((0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)):
        masks = helpers.random_masks(density, i)
        masks.save(tmp_path / f"m{i}.safetensors")
        lines.append(f"m{i}.safetensors,mlp,{helpers.accuracy_of(masks)},digits")
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    analysis = analyze(collect(tmp_path / "s.csv", ["density"]), n_boot=50)
    assert [e["level"] for e in analysis.document["correlations"]] == ["all"]
    assert analysis.document["correlations"][0]["kendall"]["value"] == pytest.approx(1.0)
    assert analysis.document["rankings"] == {}
    written = write_outputs(analysis, tmp_path / "out", plots=False)
    assert json.loads(written[0].read_text())["counts"]["sparsities"] == []


def test_without_matplotlib_the_report_says_so_and_the_rest_is_written(synthetic_study, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if not installed
    analysis = analyze(collect(synthetic_study), n_boot=20)
    written = write_outputs(analysis, tmp_path / "out")
    assert analysis.plots == [] and not (tmp_path / "out" / "plots").exists()
    assert len(written) == 8
    assert "plots skipped: matplotlib is not installed" in (tmp_path / "out" / "report.md").read_text()


def test_cli_analyze_csv_without_dataset_column(tmp_path, helpers):
    rows = []
    for i in range(6):
        masks = helpers.random_masks(0.05 + 0.05 * i, seed=i)
        masks.save(tmp_path / f"m{i}.safetensors")
        rows.append({"mask_path": f"m{i}.safetensors", "model": "mlp", "accuracy": helpers.accuracy_of(masks),
                     "method": "ab"[i % 2], "sparsity": round(0.95 - 0.05 * i, 2), "seed": i})
    with open(tmp_path / "s.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    args = ["study", "analyze", str(tmp_path / "s.csv"), "--metrics", "density", "--bootstrap", "20", "--no-plots",
            "--format", "json"]
    refused = CliRunner().invoke(main, args + ["-o", str(tmp_path / "a")])
    assert refused.exit_code == 3
    assert "no usable sparse runs (6 skipped: 6 x cannot measure: " in refused.output
    assert "skipped 6 of 6 runs, by reason:" in refused.stderr
    for extra in (["--dataset", "digits"], ["--input-shape", "1,8,8"]):
        result = CliRunner().invoke(main, args + extra + ["-o", str(tmp_path / extra[0][2:])])
        assert result.exit_code == 0, result.output
        assert "skipped" not in result.stderr
        assert json.loads(result.stdout)["counts"]["runs"] == 6
