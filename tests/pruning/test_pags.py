"""PAGS (spec pruning §3, §8 item 16): rules against an independent replay, population 0, resume,
rebalance, refused deterministic bases."""

from __future__ import annotations

import json

import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import BadInputError, UsageError
from sparsegraph.metrics import measure
from sparsegraph.pruning.counts import keep_count
from sparsegraph.pruning.samplers import pags as pags_module
from sparsegraph.utils.seed import derive_seed

D = 0.05
FS, IMDB = "spectral.full_spectrum", "ramanujan.imdb"


@pytest.fixture(autouse=True)
def _kit(kit):
    global digits, lenet, same_masks, stable
    digits, lenet, same_masks, stable = kit.digits, kit.lenet, kit.same_masks, kit.stable


def _pags(model, seed=3, **opts):
    return sg.pruning.run(model, "pags", density=D, data=digits().train, seed=seed, **opts)


def _candidates(model, n, seed=3, base="snip"):
    """Every sample drawn independently as the spec defines them, with its per-layer metric values."""
    out = []
    for j in range(n + 1):
        s = seed if j == 0 else derive_seed(seed, "pags", j)
        masks = sg.prune(model, base, D, digits().train, seed=s)
        res = measure(model, masks, [FS, IMDB], convention="neurips2023")
        layers = {f"{name}.weight": {m: res.value(m, name) for m in (FS, IMDB)} for name in res.layers}
        out.append((masks, layers, res.value(FS)))
    return out


def _geq(a, b):
    return b is None or (a is not None and a >= b)


def test_layerwise_imdb_rule_matches_replay_and_dominates_sample0():
    model = lenet()
    result = _pags(model, base="snip", population=5, rebalance=False)  # the merged best itself
    cands = _candidates(model, 5)
    # replay the rule on independently drawn samples
    best_masks = dict(cands[0][0])
    best_vals = dict(cands[0][1])
    for masks, layers, _ in cands[1:]:
        for n in best_masks:
            if _geq(layers[n][IMDB], best_vals[n][IMDB]) and _geq(layers[n][FS], best_vals[n][FS]):
                best_masks[n], best_vals[n] = masks[n], layers[n]
    assert same_masks(result.masks, best_masks)
    table = {row["layer"]: row for row in result.events[-1]["layers"]}
    assert result.events[-1]["event"] == "pags_layers"
    for n, vals in cands[0][1].items():  # every layer at least as good as sample 0's, on both metrics
        assert table[n][FS] >= vals[FS] and table[n][IMDB] >= vals[IMDB]
    # the stored values are the metric of the final mask
    final = measure(model, result.masks, [FS, IMDB], convention="neurips2023")
    for n in table:
        assert table[n][FS] == final.value(FS, n[:-len(".weight")])
    assert final.value(FS) >= cands[0][2]
    assert any(row["source"] > 0 for row in table.values())  # the search did replace something


def test_whole_merge_keeps_earliest_best_and_beats_every_candidate():
    model = lenet()
    result = _pags(model, base="snip", population=5, merge="whole")
    cands = _candidates(model, 5)
    scores = [c[2] for c in cands]
    first_best = scores.index(max(scores))
    assert same_masks(result.masks, cands[first_best][0])
    rows = [r for r in result.events if r["event"] == "pags_sample"]
    assert rows[-1]["best"] == max(scores) and all(rows[-1]["best"] >= s for s in scores)
    assert [r["candidate"] for r in rows] == scores


def test_layer_alias_and_delta_r_rule_runs_strictly():
    model = lenet()
    a = _pags(model, base="erk", population=2, merge="layerwise")
    b = _pags(model, base="erk", population=2, merge="layer")
    assert same_masks(a.masks, b.masks)
    c = _pags(model, base="erk", population=3, rule="delta_r")
    assert c.masks.num_kept > 0
    with pytest.raises(UsageError, match="merge"):
        _pags(model, base="erk", population=1, merge="bogus")
    with pytest.raises(UsageError, match="rule"):
        _pags(model, base="erk", population=1, score="ramanujan.delta_s", rule="imdb")


def test_population_zero_is_the_base_mask():
    model = lenet()
    for base in ("snip", "erk"):
        result = _pags(model, base=base, population=0)
        assert same_masks(result.masks, sg.prune(model, base, D, digits().train, seed=3))
        assert result.weights.keys() == model.state_dict().keys()


def test_caller_model_unchanged():
    model = lenet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _pags(model, base="snip", population=2)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_rebalance_keeps_exactly_k_and_logs_drift():
    model = lenet()
    plain = _pags(model, base="snip", population=4, rebalance=False)  # the authors' merge
    result = _pags(model, base="snip", population=4)  # exact density is the default
    total = plain.masks.numel
    k = keep_count(D, total)
    assert plain.masks.num_kept != k  # the layer-wise merge drifted (else the test shows nothing)
    assert result.masks.num_kept == k
    rebalanced = [r for r in result.events if r["event"] == "pags_rebalance"][0]
    assert rebalanced["kept"] == k and rebalanced["drift_before"] == plain.masks.num_kept - k
    assert result.masks.metadata["rebalanced"] is True and plain.masks.metadata["rebalanced"] is False
    assert not [r for r in plain.events if r["event"] == "pags_rebalance"]
    # per layer: only removals where the best had more than its share, only additions elsewhere
    for n in plain.masks:
        a, b = plain.masks[n], result.masks[n]
        assert bool((b & ~a).any()) is False or bool((a & ~b).any()) is False


def test_deterministic_bases_need_perturb():
    model = lenet()
    for base in ("magnitude", "synflow"):
        with pytest.raises(UsageError, match="perturb"):
            _pags(model, base=base, population=2)
    result = _pags(model, base="magnitude", population=3, perturb=0.5)
    rows = [r for r in result.events if r["event"] == "pags_sample"]
    assert len({r["candidate"] for r in rows}) > 1  # perturbed samples differ
    with pytest.raises(UsageError, match="sampler"):
        _pags(model, base="pags", population=1)


def test_scores_refused_for_pags():
    with pytest.raises(UsageError, match="one-shot"):
        sg.pruning.scores("pags", lenet(), digits().train)


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_resume_after_state_write_is_bitwise(tmp_path, monkeypatch):
    model = lenet()
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    full = _pags(model, base="snip", population=6, interval=2, run_dir=full_dir)

    original = pags_module.Sampler.sample

    def crash_at_5(self, j):
        if j == 5:
            raise KeyboardInterrupt("stopped")
        return original(self, j)

    monkeypatch.setattr(pags_module.Sampler, "sample", crash_at_5)
    with pytest.raises(KeyboardInterrupt):
        _pags(model, base="snip", population=6, interval=2, run_dir=cut_dir)
    monkeypatch.setattr(pags_module.Sampler, "sample", original)
    state = torch.load(cut_dir / "snapshots" / "state.pt", weights_only=True)
    assert state["best"]["j"] == 4
    resumed = _pags(model, base="snip", population=6, interval=2, run_dir=cut_dir, resume=True)
    assert same_masks(resumed.masks, full.masks)
    assert stable(_rows(cut_dir)) == stable(_rows(full_dir))
    snaps = sorted(p.name for p in (full_dir / "snapshots").glob("mask_*"))
    assert snaps == sorted(p.name for p in (cut_dir / "snapshots").glob("mask_*"))
    for name in snaps:  # safetensors orders header keys arbitrarily: compare contents, not bytes
        a, b = sg.MaskSet.load(full_dir / "snapshots" / name), sg.MaskSet.load(cut_dir / "snapshots" / name)
        assert same_masks(a, b) and a.metadata == b.metadata
    with pytest.raises(BadInputError, match="config hash"):
        _pags(model, base="snip", population=6, interval=3, run_dir=cut_dir, resume=True)


def test_snapshot_metadata(tmp_path):
    result = _pags(lenet(), base="erk", population=4, interval=2, run_dir=tmp_path)
    snaps = [r for r in result.events if r["event"] == "pags_snapshot"]
    assert snaps[0]["j"] == 0
    last = sg.MaskSet.load(tmp_path / snaps[-1]["path"])
    assert last.fingerprint() == snaps[-1]["fingerprint"]
    assert last.metadata["pags_sample"] == snaps[-1]["j"]


def test_score_direction_from_registry_or_given():
    model = lenet()
    with pytest.raises(UsageError, match="direction"):  # ramanujan.narc has no registry direction
        _pags(model, base="erk", population=1, score="ramanujan.narc")
    with pytest.raises(UsageError, match="merge='whole'"):  # graph-scope metrics need whole masks
        _pags(model, base="erk", population=1, score="topo.components", direction="max")
    result = _pags(model, base="erk", population=4, score="ramanujan.narc", direction="min", merge="whole")
    rows = [r for r in result.events if r["event"] == "pags_sample"]
    scores = [r["candidate"] for r in rows]
    assert rows[-1]["best"] == min(scores)
    best = scores.index(min(scores))
    j_seed = 3 if best == 0 else derive_seed(3, "pags", best)
    assert same_masks(result.masks, sg.prune(model, "erk", D, seed=j_seed))


def test_first_mask_data_full_scores_sample0_on_the_whole_split():
    from sparsegraph.training.batches import iterate_eval

    model = lenet()
    train = digits().train
    full = _pags(model, base="snip", population=0, first_mask_data="full")
    batches = list(iterate_eval(train, 128, torch.device("cpu")))
    assert sum(len(y) for _, y in batches) == len(train)
    expected = sg.prune(model, "snip", D, batches, seed=3, score_batches=len(batches))
    assert same_masks(full.masks, expected)
    assert not same_masks(full.masks, _pags(model, base="snip", population=0).masks)
    with pytest.raises(UsageError, match="labelled"):
        _pags(model, base="erk", population=0, first_mask_data="full")
