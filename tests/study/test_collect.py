import csv
import json
import math

import pytest

from sparsegraph.errors import BadInputError, StudyInputError
from sparsegraph.masks import MaskSet
from sparsegraph.metrics import register_metric
from sparsegraph.metrics.registry import unregister_metric
from sparsegraph.study.collect import collect



def test_study_directory_records_and_skipped_runs(synthetic_study, helpers):
    SHAPES = helpers.SHAPES
    collection = collect(synthetic_study)
    assert collection.metrics == ["density"]
    assert len(collection.records) == 14  # 12 sparse + 2 dense
    assert sum(r.is_dense for r in collection.records) == 2
    reasons = {s["run"]: s["reason"] for s in collection.skipped}
    assert reasons == {
        "a_s0.95_seed0": "unfinished (no summary.json)",
        "b_s0.95_seed0": "accuracy is nan",
        "c_s0.95_seed0": "no test_at_best_val in summary.json (trained with --epochs 0?)",
        "c_s0.95_seed1": "missing run directory",
    }
    record = next(r for r in collection.records if r.run_id == "b_s0.9_seed1")
    assert (record.method, record.sparsity, record.seed, record.model) == ("b", 0.9, 1, "mlp")
    assert record.network["density"] == pytest.approx(sum(record.layer_densities[n] * math.prod(s)
                                                          for n, s in SHAPES.items()) / sum(
        math.prod(s) for s in SHAPES.values()))
    assert set(record.layers["density"]) == set(SHAPES)


def test_study_directory_without_manifest_is_scanned(synthetic_study):
    (synthetic_study / "study.json").unlink()
    collection = collect(synthetic_study)
    assert len(collection.records) == 14
    assert {s["run"] for s in collection.skipped} == {"a_s0.95_seed0", "b_s0.95_seed0", "c_s0.95_seed0"}


@pytest.fixture
def edges_metric():
    register_metric(lambda graph: float(graph.num_edges), name="studytest.edges", scope="layer", encoding="rolled",
                    higher_is_better=True, units="count", aggregate="mean", description="kept edges")
    yield "studytest.edges"
    unregister_metric("studytest.edges")


def _write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_csv_with_a_plugin_metric_computed_on_the_masks(tmp_path, edges_metric, helpers):
    random_masks = helpers.random_masks
    rows = []
    for i, density in enumerate((0.05, 0.1, 0.2, 0.3)):
        masks = random_masks(density, seed=i)
        masks.save(tmp_path / f"m{i}.safetensors")
        rows.append({"mask_path": f"m{i}.safetensors", "model": "mlp", "accuracy": 1e-5 * masks.num_kept,
                     "method": "x", "sparsity": 1 - density, "seed": i, "dataset": "digits"})
    rows.append({**rows[0], "mask_path": "absent.safetensors"})
    rows.append({**rows[1], "accuracy": "nan"})
    rows.append({**rows[2], "sparsity": "lots"})
    _write_csv(tmp_path / "study.csv", rows)
    collection = collect(tmp_path / "study.csv", ["studytest.edges"])
    assert collection.metrics == ["studytest.edges"]
    assert [r.run_id for r in collection.records] == ["row2", "row3", "row4", "row5"]
    for record in collection.records:  # the mean over 3 layers of kept edges = kept / 3
        assert record.network["studytest.edges"] == pytest.approx(record.accuracy / 1e-5 / 3)
        assert sum(record.layers["studytest.edges"].values()) == pytest.approx(record.accuracy / 1e-5)
    reasons = {s["run"]: s["reason"] for s in collection.skipped}
    assert reasons["row6"].startswith("mask file ") and reasons["row6"].endswith("absent.safetensors not found")
    assert reasons["row7"] == "accuracy is nan"
    assert reasons["row8"] == "sparsity 'lots' is not a float"
    assert collection.notes == ["computed missing metrics with sparsegraph.measure for 4 run(s)"]


def test_mask_that_does_not_fit_the_model_is_skipped(tmp_path, helpers):
    helpers.random_masks(0.1, 0).save(tmp_path / "m.safetensors")
    _write_csv(tmp_path / "s.csv", [{"mask_path": "m.safetensors", "model": "lenet5", "accuracy": 0.5}])
    collection = collect(tmp_path / "s.csv", ["density"])
    assert collection.records == []
    assert collection.skipped[0]["run"] == "row2" and collection.skipped[0]["reason"].startswith("cannot measure: ")


@pytest.mark.parametrize("content, message", [
    ("mask_path,accuracy\nm.safetensors,0.5\n", "missing required column(s) model"),
    ("mask_path,model,accuracy\n", "no rows"),
    (b"\xff\xfe\x00binary", "not a readable CSV"),
])
def test_bad_csv_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(StudyInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        collect(path, ["density"])


def test_not_a_study(tmp_path):
    with pytest.raises(StudyInputError, match="not a study directory"):
        collect(tmp_path)
    with pytest.raises(StudyInputError, match="no such study directory or CSV file"):
        collect(tmp_path / "nothing")


def test_corrupt_run_files_are_skipped_or_ignored(synthetic_study):
    (synthetic_study / "a_s0.8_seed0" / "summary.json").write_text("{not json")
    (synthetic_study / "a_s0.8_seed1" / "summary.json").write_text("[1, 2]")
    (synthetic_study / "b_s0.8_seed0" / "metrics.json").write_text('{"rows": [1, {"metric": 3}, null]}')
    collection = collect(synthetic_study)
    reasons = {s["run"]: s["reason"] for s in collection.skipped}
    assert reasons["a_s0.8_seed0"].startswith("unreadable summary.json (")
    assert reasons["a_s0.8_seed1"] == "unreadable summary.json (not a JSON object)"
    record = next(r for r in collection.records if r.run_id == "b_s0.8_seed0")
    assert record.network == {} and len(collection.records) == 12
    # asking for density computes it for the run whose metrics.json was unusable
    again = collect(synthetic_study, ["density"])
    record = next(r for r in again.records if r.run_id == "b_s0.8_seed0")
    assert record.network["density"] == pytest.approx(MaskSet.load(record.masks_path).density)
    assert again.notes == ["computed missing metrics with sparsegraph.measure for 1 run(s)"]


def test_csv_with_bom_and_no_method_sparsity_or_seed(tmp_path, helpers):
    lines = ["mask_path,model,accuracy,dataset"]
    for i, density in enumerate((0.1, 0.2, 0.3, 0.4)):
        helpers.random_masks(density, i).save(tmp_path / f"m{i}.safetensors")
        lines.append(f"m{i}.safetensors,mlp,{0.5 + density},digits")
    (tmp_path / "s.csv").write_bytes(("\n".join(lines) + "\n").encode("utf-8-sig"))
    collection = collect(tmp_path / "s.csv", ["density"])
    assert len(collection.records) == 4
    assert {(r.method, r.sparsity, r.seed, r.dataset) for r in collection.records} == {("unknown", None, None, "digits")}


def _dataset_free_csv(tmp_path, helpers, n=4):
    """Rows for the digits mlp (64 inputs) without a dataset column: the zoo default shape is 1x28x28."""
    rows = []
    for i in range(n):
        masks = helpers.random_masks(0.1 + 0.05 * i, seed=i)
        masks.save(tmp_path / f"m{i}.safetensors")
        rows.append({"mask_path": f"m{i}.safetensors", "model": "mlp", "accuracy": helpers.accuracy_of(masks),
                     "method": "x", "sparsity": 0.9 - 0.05 * i, "seed": i})
    _write_csv(tmp_path / "s.csv", rows)
    return tmp_path / "s.csv"


def test_csv_without_dataset_column_needs_the_shape(tmp_path, helpers):
    from sparsegraph.study.collect import summarize_skipped

    path = _dataset_free_csv(tmp_path, helpers)
    collection = collect(path, ["density"])
    assert collection.records == [] and len(collection.skipped) == 4  # built for 1x28x28: masks do not fit
    groups = summarize_skipped(collection.skipped)
    assert len(groups) == 1 and groups[0]["count"] == 4 and groups[0]["runs"] == ["row2", "row3", "row4"]
    for options in ({"dataset": "digits"}, {"input_shape": (1, 8, 8)}):
        collection = collect(path, ["density"], **options)
        assert collection.skipped == [] and [r.run_id for r in collection.records] == ["row2", "row3", "row4", "row5"]
        for record in collection.records:
            assert record.network["density"] == pytest.approx(MaskSet.load(record.masks_path).density)


def test_csv_rows_take_shape_and_dataset_from_their_run_directory(tmp_path, helpers):
    masks = helpers.random_masks(0.2, seed=5)
    run = helpers.write_run(tmp_path, "run_a", method="snip", sparsity=0.8, seed=3, masks=masks, accuracy=0.5)
    document = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**document, "options": {"input_shape": [1, 8, 8]}}))
    _write_csv(tmp_path / "s.csv", [{"mask_path": "run_a/masks.safetensors", "model": "mlp", "accuracy": 0.5}])
    collection = collect(tmp_path / "s.csv", ["paths.effective_weights"])
    assert collection.skipped == []
    (record,) = collection.records
    assert (record.dataset, record.input_shape, record.seed) == ("digits", (1, 8, 8), 3)
    assert record.network["paths.effective_weights"] is not None


def test_skipped_reasons_are_grouped_by_reason_with_examples():
    from sparsegraph.study.collect import summarize_skipped

    skipped = ([{"run": f"row{i}", "reason": "accuracy is nan"} for i in range(2, 4)]
               + [{"run": f"row{i}", "reason": f"mask file /data/m{i}.safetensors not found"} for i in range(4, 9)])
    assert summarize_skipped(skipped, examples=2) == [
        {"reason": "mask file <path> not found", "count": 5, "runs": ["row4", "row5"]},
        {"reason": "accuracy is nan", "count": 2, "runs": ["row2", "row3"]},
    ]


def test_metrics_at_a_tracked_step(synthetic_study):
    from sparsegraph.tracking.table import TrackRow, write_track

    run = synthetic_study / "a_s0.8_seed0"
    masks = MaskSet.load(run / "masks.safetensors")
    (run / "track").mkdir()
    for step in (0, 10, 20):
        masks.save(run / "track" / f"step_{step}.safetensors", compact=True)
    write_track(run / "track.csv", [TrackRow(s, s // 10, "track.itop_rate", "network", 0.2 + s / 100)
                                    for s in (0, 10, 20)]
                + [TrackRow(10, 1, "track.hamming", "fc1", 5.0), TrackRow(20, 2, "test_acc", "network", 0.9)])
    collection = collect(synthetic_study, at_step=15, compute_missing=False)
    record = next(r for r in collection.records if r.run_id == "a_s0.8_seed0")
    assert record.network == {"track.itop_rate": pytest.approx(0.3)}
    assert record.layers["track.hamming"] == {"fc1": 5.0} and "test_acc" not in record.network
    assert record.masks_path.endswith("step_10.safetensors")
    final = collect(synthetic_study, at_step="final", compute_missing=False)
    record = next(r for r in final.records if r.run_id == "a_s0.8_seed0")
    assert record.network["track.itop_rate"] == pytest.approx(0.4)
    assert record.masks_path.endswith("step_20.safetensors")
    assert any("track.csv" in s["reason"] for s in final.skipped if s["run"] == "b_s0.8_seed0")
    assert any("track.csv" in note for note in final.notes)
    with pytest.raises(BadInputError, match="at_step"):
        collect(synthetic_study, at_step=-1)
