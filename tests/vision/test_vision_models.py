"""Image networks: each named architecture trains; embeddings equal the network run in PyTorch directly; search equals
scikit-learn's NearestNeighbors(metric="cosine"); a backbone pretrained on digits 0-4 is fine-tuned on 5-9 from a few
images, with the frozen layers untouched; models reload and export to ONNX."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tidal.core._errors import TidalError

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")

from tidal.components.vision_models import finetune, train_classifier  # noqa: E402
from tidal.components.vision_search import embed, similarity_search  # noqa: E402


@pytest.fixture(scope="module")
def backbone(digits):
    """A CNN pretrained on digits 0-4: the "pretrained backbone" with no hub to download one from."""
    return train_classifier(digits[digits.target < 5], label="target", epochs=12, threads=1, seed=0).model


@pytest.mark.parametrize("architecture", ["resnet18", "mobilenet_v3_small"])
def test_the_published_architectures_train_on_small_images(digits, architecture):
    trained = train_classifier(digits.head(200), label="target", architecture=architecture, width=0.25, epochs=2,
                               batch_size=32, threads=1)
    assert trained.report["epochs_run"] == 2 and trained.model.classes == list(range(10))
    assert trained.model.metadata["image"]["architecture"] == architecture
    assert trained.model.predict(digits.tail(5)).shape == (5,)


def test_a_spec_of_your_own_trains_and_a_wrong_shape_is_named(digits, tmp_path):
    from pathlib import Path

    spec = Path(__file__).resolve().parents[2] / "examples" / "nn" / "digits_cnn.yaml"
    trained = train_classifier(digits.head(300), label="target", path=str(spec), epochs=2, threads=1)
    assert trained.model.metadata["image"]["architecture"] == "spec"
    with pytest.raises(Exception, match="shape \\[1, 4, 4\\] takes 16 pixel columns"):
        train_classifier(digits, label="target", shape=[1, 4, 4])


def test_embeddings_equal_the_layer_output_of_the_network_run_directly(digits, backbone):
    rows = digits.tail(12)
    table = embed(rows, backbone, keep_columns=False)
    network = backbone.model
    module = network.module()
    captured = {}
    hook = module.get_submodule("features").register_forward_hook(lambda _m, _i, output: captured.update(x=output))
    pixels = rows[backbone.features].to_numpy(dtype=np.float64)
    scaled = (pixels - network.mean) / network.std
    try:
        with torch.no_grad():
            module(torch.from_numpy(scaled.astype(np.float32)).reshape(-1, 1, 8, 8))
    finally:
        hook.remove()
    assert np.allclose(table.to_numpy(), captured["x"].numpy().astype(np.float64), atol=1e-6)
    assert table.shape == (12, 64)
    flat = embed(rows, backbone, layer="pool2", keep_columns=False)
    assert flat.shape == (12, 32 * 2 * 2)
    with pytest.raises(TidalError, match="has no layer 'nope'.*conv1"):
        embed(rows, backbone, layer="nope")


def test_similarity_search_agrees_with_scikit_learn_nearest_neighbours():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    corpus = pd.DataFrame(rng.normal(size=(40, 6)), columns=[f"emb_{i}" for i in range(6)])
    corpus.loc[5] = 0.0  # an all-zero vector scores 0 against everything, as scikit-learn computes it
    queries = pd.DataFrame(rng.normal(size=(7, 6)), columns=corpus.columns)
    hits = similarity_search(queries, corpus, top_k=5)
    distances, indices = NearestNeighbors(n_neighbors=5, metric="cosine").fit(corpus).kneighbors(queries)
    assert hits["corpus_row"].to_numpy().reshape(7, 5).tolist() == indices.tolist()
    assert np.allclose(hits["score"].to_numpy().reshape(7, 5), 1 - distances, atol=1e-12)
    assert hits["rank"].tolist() == [1, 2, 3, 4, 5] * 7


def test_finetuning_a_pretrained_backbone_learns_new_classes_from_a_few_images(digits, backbone):
    new = digits[digits.target >= 5]
    tiny = new.groupby("target").head(8)  # 8 labelled images per new class
    held_out = new.drop(tiny.index)
    tuned = finetune(tiny, backbone, label="target", freeze_until="pool2", epochs=40, threads=1).model
    accuracy = float((tuned.predict(held_out) == held_out["target"]).mean())
    assert accuracy >= 0.75, accuracy  # chance is 0.2
    assert tuned.classes == [5, 6, 7, 8, 9] and tuned.metadata["finetuned"]["frozen"][-1] == "pool2"
    for key, value in backbone.model.state.items():  # the convolutions kept their weights and statistics
        if key.split(".")[0] in ("conv1", "bn1", "conv2", "bn2"):
            assert torch.equal(tuned.model.state[key], value), key
    probe = finetune(tiny, backbone, label="target", epochs=5, threads=1).model  # default: only the new head trains
    assert all(torch.equal(probe.model.state[key], value) for key, value in backbone.model.state.items()
               if not key.startswith("head."))
    assert probe.model.state["head.weight"].shape == (5, 64)


def test_finetune_can_train_the_upper_layers_and_names_a_wrong_layer(digits, backbone):
    tiny = digits[digits.target >= 5].head(60)
    tuned = finetune(tiny, backbone, label="target", freeze_until="pool2", epochs=2, threads=1).model
    assert torch.equal(tuned.model.state["conv2.weight"], backbone.model.state["conv2.weight"])
    assert not torch.equal(tuned.model.state["hidden.weight"], backbone.model.state["hidden.weight"])
    everything = finetune(tiny, backbone, label="target", train_all=True, epochs=1, threads=1).model
    assert not torch.equal(everything.model.state["conv1.weight"], backbone.model.state["conv1.weight"])
    with pytest.raises(TidalError, match="no layer 'layer9'.*conv1, bn1"):
        finetune(tiny, backbone, label="target", freeze_until="layer9")


def test_a_vision_model_saves_reloads_and_exports_to_onnx(digits, backbone, tmp_path):
    from tidal.components.model import export
    from tidal.models import ModelPackage

    loaded = ModelPackage.load(backbone.save_archive(tmp_path / "cnn.zip"))
    rows = digits.tail(30)
    assert np.array_equal(loaded.predict(rows), backbone.predict(rows))
    assert loaded.metadata["image"]["architecture"] == "cnn"
    report = export(backbone, rows, path=str(tmp_path / "cnn.onnx"))  # written only once onnxruntime agrees
    assert (tmp_path / "cnn.onnx").is_file(), dict(report)
