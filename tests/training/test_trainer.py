import json

import pytest
import torch

from sparsegraph.errors import TrainingError, UsageError
from sparsegraph.training import RunLog, train


def test_dense_training_learns_the_blobs(blob_data, mlp):
    result = train(mlp, None, blob_data, recipe="small", epochs=5, batch_size=32, lr=0.1, seed=0)
    assert result.epochs == 5
    assert result.test_final > 0.9
    assert result.best_epoch is not None and 1 <= result.best_epoch <= 5
    assert result.test_at_best_val == result.history[result.best_epoch - 1]["test_acc"]


def test_sparse_training_keeps_mask_and_writes_checkpoints(blob_data, mlp, tmp_path):
    masks = {"0.weight": torch.rand(16, 8, generator=torch.Generator().manual_seed(0)) < 0.5}
    log = RunLog(tmp_path / "log.jsonl")
    result = train(mlp, masks, blob_data, recipe="small", epochs=2, batch_size=32, seed=1,
                   run_dir=tmp_path, log=log)
    assert torch.count_nonzero(mlp[0].weight[~masks["0.weight"]]) == 0
    assert (tmp_path / "checkpoints" / "last.pt").exists()
    assert (tmp_path / "checkpoints" / "best.safetensors").exists()
    events = [json.loads(line)["event"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert events == ["epoch", "checkpoint", "epoch", "checkpoint"]
    payload = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert payload["epoch"] == 2 and payload["iteration"] == result.history[-1]["iteration"]


class _Interrupt(Exception):
    pass


class _StopAtEpoch(RunLog):
    def __init__(self, stop_epoch):
        super().__init__(None)
        self.stop_epoch = stop_epoch

    def write(self, event, **fields):
        if event == "epoch" and fields["epoch"] == self.stop_epoch:
            raise _Interrupt
        return super().write(event, **fields)


def _fresh_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))


def test_resume_after_interruption_equals_uninterrupted_run(blob_data, tmp_path):
    masks = {"2.weight": torch.rand(4, 16, generator=torch.Generator().manual_seed(3)) < 0.5}
    kw = dict(recipe="small", epochs=3, batch_size=32, seed=7, deterministic=True)
    full = _fresh_mlp()
    ref = train(full, masks, blob_data, run_dir=tmp_path / "a", **kw)

    interrupted = _fresh_mlp()
    with pytest.raises(_Interrupt):
        train(interrupted, masks, blob_data, run_dir=tmp_path / "b", log=_StopAtEpoch(2), **kw)
    resumed_model = _fresh_mlp()
    resumed = train(resumed_model, masks, blob_data, run_dir=tmp_path / "b", resume=True, **kw)

    for (name, a), b in zip(full.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.equal(a, b), name
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(resumed.history) == strip(ref.history)


def test_resume_without_checkpoint_is_a_usage_error(blob_data, mlp, tmp_path):
    with pytest.raises(UsageError, match="no checkpoint"):
        train(mlp, None, blob_data, run_dir=tmp_path, resume=True, epochs=1)


def test_nan_loss_stops_with_a_clear_message(blob_data, mlp):
    with torch.no_grad():
        mlp[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match="training loss became nan in epoch 1"):
        train(mlp, None, blob_data, recipe="small", epochs=2, batch_size=32)


def test_dense_lenet5_reaches_95_percent_on_digits():
    import sparsegraph as sg
    from sparsegraph.training import load_train_data

    torch.set_num_threads(2)
    model = sg.create_model("lenet5", num_classes=10, input_shape=(1, 8, 8), seed=0)
    result = train(model, None, load_train_data("digits"), seed=0)
    assert result.epochs == 20
    assert result.test_at_best_val >= 0.95
