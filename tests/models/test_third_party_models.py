"""timm and Hugging Face transformers models built from configs (no weights are downloaded): measured, pruned
with every pruning-at-initialisation generator, traced where the weight graph has a meaning (issue 18.4)."""

import json
import os
import textwrap

import pytest
import torch
from click.testing import CliRunner

import sparsegraph as sg
from sparsegraph.errors import BadInputError, UnsupportedOpError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
timm = pytest.importorskip("timm")
transformers = pytest.importorskip("transformers")

PAI = ["random", "random-global", "er", "erk", "magnitude", "snip", "grasp", "synflow", "iter-snip"]
TINY_VIT = dict(img_size=32, patch_size=8, depth=2, embed_dim=32, num_heads=2)


def tiny_vit():
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10, **TINY_VIT)


def tiny_bert(**kw):
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=32, num_labels=3, **kw)
    return transformers.BertForSequenceClassification(config)


def linear_names(model):
    return [f"{name}.weight" for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]


def images(n=8):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def tokens(n=8):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 100, (n, 16), generator=g), torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize("method", PAI)
def test_every_pai_generator_prunes_a_tiny_vit(method):
    model = tiny_vit()
    options = {"rounds": 2} if method in ("synflow", "iter-snip") else {}
    masks = sg.prune(model, method, density=0.1, data=images(), seed=0, input_shape=(3, 32, 32), **options)
    assert list(masks) == [n for n in sg.masks.maskable_parameters(model)]
    assert masks.num_kept == int(0.1 * masks.numel + 0.5)


@pytest.mark.parametrize("method", PAI)
def test_every_pai_generator_prunes_a_tiny_bert_on_token_ids(method):
    model = tiny_bert()
    options = {"rounds": 2} if method in ("synflow", "iter-snip") else {}
    masks = sg.prune(model, method, density=0.1, data=tokens(), seed=0, input_shape=(16,), input_dtype="int64",
                     **options)
    assert list(masks) == linear_names(model)  # the embeddings are not Linear weights: never masked
    assert masks.num_kept == int(0.1 * masks.numel + 0.5)


def test_snip_on_bert_scores_the_logits_of_its_model_output():
    model = tiny_bert()
    x, y = tokens()
    scores = sg.pruning.scores("snip", model, (x, y), seed=0)
    # the same score by hand: |θ ⊙ ∂ CE(logits, y) / ∂θ|
    weight = model.eval().classifier.weight  # scoring runs in eval mode (no dropout)
    grad, = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x).logits, y), [weight])
    assert torch.allclose(scores["classifier.weight"], (weight * grad).abs(), atol=1e-7)


def test_layer_metrics_run_on_vit_and_bert_where_the_graph_refuses_attention():
    vit = tiny_vit()
    result = sg.measure(vit, sg.prune(vit, "erk", density=0.3, seed=0), ["density", "ramanujan.delta_r"],
                        input_shape=(3, 32, 32))
    layers = {r["layer"] for r in result.rows if r["scope"] == "layer"}
    assert "blocks.0.attn.qkv" in layers and "head" in layers
    assert any("could not be traced" in note and "blocks.0.attn" in note for note in result.notes)
    with pytest.raises(UnsupportedOpError) as info:
        sg.encode(vit, None, encoding="mge", input_shape=(3, 32, 32))
    assert info.value.module == "blocks.0.attn" and "attention" in info.value.reason
    assert len(str(info.value).splitlines()) == 1
    bert = tiny_bert()
    result = sg.measure(bert, None, ["density"], input_shape=(16,), input_dtype="int64")
    assert {r["layer"] for r in result.rows if r["scope"] == "layer"} >= {"classifier", "bert.pooler.dense"}
    with pytest.raises(BadInputError, match="'bert.embeddings.word_embeddings' \\(Embedding\\)"):
        sg.encode(bert, None, encoding="mge", input_shape=(16,), input_dtype="int64")
    with pytest.raises(BadInputError, match="pass input_dtype=torch.int64"):
        sg.trace(bert, (16,))


def test_mobilenetv3_squeeze_excitation_traces_as_a_leaf():
    from timm.models._efficientnet_blocks import SqueezeExcite

    model = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=10)
    with pytest.raises(UnsupportedOpError, match="SqueezeExcite"):
        sg.trace(model, (3, 32, 32))
    with pytest.warns(UserWarning, match="only called inside a leaf module"):
        topo = sg.trace(model, (3, 32, 32), leaf_modules=[SqueezeExcite])
    assert all(".se." in name for name in topo.unused) and len(topo.layers) + len(topo.unused) == \
        len(sg.masks.maskable_parameters(model))
    masks = sg.prune(model, "synflow", density=0.2, seed=0, input_shape=(3, 32, 32), rounds=2,
                     leaf_modules=[SqueezeExcite])
    graph = sg.encode(model, masks, encoding="mge", input_shape=(3, 32, 32), leaf_modules=[SqueezeExcite])
    traced_kept = sum(int(masks[info.param].sum()) for info in topo.layers)
    assert graph.num_edges <= traced_kept * 32 * 32 and graph.num_edges > 0
    result = sg.measure(model, masks, ["paths.log10_paths"], input_shape=(3, 32, 32), leaf_modules=[SqueezeExcite])
    assert result.value("paths.log10_paths") > 0


def test_cli_builds_timm_models_with_model_args_and_names_leaf_modules(tmp_path):
    from sparsegraph_cli.main import main

    vit = ["--model", "timm:create_model", "--model-arg", "model_name=vit_tiny_patch16_224",
           *[a for k, v in TINY_VIT.items() for a in ("--model-arg", f"{k}={v}")], "--input-shape", "3,32,32"]
    result = CliRunner().invoke(main, ["measure", *vit, "--metrics", "density", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert any(r["layer"] == "blocks.1.mlp.fc2" for r in json.loads(result.stdout)["rows"])
    result = CliRunner().invoke(main, ["export", *vit, "--encoding", "mge", "--format", "npz",
                                       "-o", str(tmp_path / "vit.npz")])
    assert result.exit_code == 3
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "'blocks.0.attn' (Attention)" in errors[0]
    mobilenet = ["--model", "timm:create_model", "--model-arg", "model_name=mobilenetv3_small_050",
                 "--model-arg", "in_chans=1", "--input-shape", "1,16,16"]
    leaf = ["--leaf-module", "timm.models._efficientnet_blocks.SqueezeExcite"]
    result = CliRunner().invoke(main, ["measure", *mobilenet, *leaf, "--metrics", "paths.log10_paths",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    row, = [r for r in json.loads(result.stdout)["rows"] if r["scope"] == "network"]
    assert row["status"] == "ok" and row["value"] > 0
    result = CliRunner().invoke(main, ["measure", *mobilenet, "--leaf-module", "timm.NoSuchBlock",
                                       "--metrics", "density"])
    assert result.exit_code == 3 and "NoSuchBlock" in result.output


BERT_FILE = textwrap.dedent("""
    import transformers

    def build(num_classes=2):
        config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=64, max_position_embeddings=32, num_labels=num_classes)
        return transformers.BertForSequenceClassification(config)
""")


def test_cli_measures_a_bert_from_a_config_file_on_token_ids(tmp_path):
    from sparsegraph_cli.main import main

    (tmp_path / "bert.py").write_text(BERT_FILE)
    result = CliRunner().invoke(main, ["measure", "--model", f"{tmp_path / 'bert.py'}:build", "--num-classes", "3",
                                       "--input-shape", "16", "--input-dtype", "int64", "--metrics",
                                       "density,ramanujan.delta_r", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert {r["layer"] for r in rows if r["scope"] == "layer"} >= {"classifier", "bert.encoder.layer.0.attention.self.query"}


@pytest.mark.slow
def test_full_size_vit_b16_and_bert_base_from_config_are_measured_and_pruned_with_snip():
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=10)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 3, 224, 224, generator=g), torch.randint(0, 10, (2,), generator=g)
    masks = sg.prune(vit, "snip", density=0.05, data=(x, y), seed=0)
    assert masks.num_kept == int(0.05 * masks.numel + 0.5) and len(masks) == 4 * 12 + 2  # + patch_embed.proj and head
    result = sg.measure(vit, masks, ["density", "ramanujan.delta_r"], input_shape=(3, 224, 224))
    assert result.value("density") == pytest.approx(masks.density)
    bert = transformers.BertForSequenceClassification(transformers.BertConfig(num_labels=2))
    ids, labels = torch.randint(0, 30522, (2, 128), generator=g), torch.randint(0, 2, (2,), generator=g)
    masks = sg.prune(bert, "snip", density=0.05, data=(ids, labels), seed=0)
    assert len(masks) == 6 * 12 + 2 and masks.num_kept == int(0.05 * masks.numel + 0.5)
    result = sg.measure(bert, masks, ["density", "ramanujan.delta_r"], input_shape=(128,), input_dtype="int64")
    assert result.value("density") == pytest.approx(masks.density)
