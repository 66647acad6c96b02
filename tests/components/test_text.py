"""Text: parity with jieba, scikit-learn's vectorizers and decompositions, networkx PageRank and
gensim; hand-checked segmentation, sentences and edit distances; the text.yaml example end to end."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import jieba
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import NMF, LatentDirichletAllocation
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

import tidal
from tidal.components.model import predict
from tidal.components.text import normalize, segment_words, sentence_split, stop_words
from tidal.components.text_counts import bag_of_words, ngrams, tfidf, word_frequency
from tidal.components.text_embeddings import word2vec
from tidal.components.text_keywords import cooccurrence, keywords
from tidal.components.text_similarity import levenshtein, similar_documents, string_similarity
from tidal.components.text_topics import lda, nmf
from tidal.core import DataError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOKEN = r"(?u)\S+"


@pytest.fixture(scope="module")
def documents() -> pd.DataFrame:
    """The example documents, segmented and without stop words."""
    raw = pd.read_csv(EXAMPLES / "data" / "documents.csv")
    return stop_words(segment_words(raw, column="text"), column="text", min_length=2)


def test_chinese_segmentation_is_jiebas():
    texts = ["我来到北京清华大学", "小明硕士毕业于中国科学院计算所，后在日本京都大学深造", "他来到了网易杭研大厦"]
    segmented = segment_words(pd.DataFrame({"text": texts}), column="text", keep_punctuation=True, lowercase=False)
    assert segmented["text"].tolist() == [" ".join(token for token in jieba.lcut(text) if token.strip()) for text in texts]
    without = segment_words(pd.DataFrame({"text": texts}), column="text", output_column="tokens")
    assert "，" not in without["tokens"].iloc[1] and without["text"].tolist() == texts
    custom = segment_words(pd.DataFrame({"text": ["他来到了网易杭研大厦"]}), column="text", user_words=["杭研大厦"])
    assert "杭研大厦" in custom["text"].iloc[0].split()


def test_english_and_other_segmentations():
    docs = pd.DataFrame({"text": ["Don't stop: it's 3.5 times faster!", None]})
    assert segment_words(docs, column="text")["text"].tolist() == ["don't stop it's 3 5 times faster", ""]
    assert segment_words(docs, column="text", method="whitespace", lowercase=False)["text"].iloc[0] == "Don't stop: it's 3.5 times faster!"
    assert segment_words(pd.DataFrame({"text": ["中 文"]}), column="text", method="characters")["text"].iloc[0] == "中 文"


def test_normalize_and_stop_words():
    docs = pd.DataFrame({"text": ["ＡＢＣ，Ｔhe  Cat (２０２４)!"]})
    assert normalize(docs, column="text")["text"].iloc[0] == "abc,the cat (2024)!"
    assert normalize(docs, column="text", strip_punctuation=True, strip_digits=True)["text"].iloc[0] == "abc the cat"
    tokens = pd.DataFrame({"text": ["The cat and 我们 的 猫 was here x"]})
    assert stop_words(tokens, column="text")["text"].iloc[0] == "cat 猫 x"
    assert stop_words(tokens, column="text", languages="chinese")["text"].iloc[0] == "The cat and 猫 was here x"
    extra = pd.DataFrame({"word": ["CAT"]})
    assert stop_words(tokens, extra, column="text", languages="english")["text"].iloc[0] == "我们 的 猫 x"
    assert stop_words(tokens, extra, column="text", languages="none", min_length=2)["text"].iloc[0] == "The and 我们 was here"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Who met Mrs. Hudson. They talked.", ["Dr. Who met Mrs. Hudson.", "They talked."]),
        ('He said "stop!" She stopped.', ['He said "stop!"', "She stopped."]),
        ("Pi is 3.14159 roughly. Right?!", ["Pi is 3.14159 roughly.", "Right?!"]),
        ("第一句。第二句！第三句？“引号。”最后", ["第一句。", "第二句！", "第三句？", "“引号。”", "最后"]),
        ("Mixed English. 中文句子。Done", ["Mixed English.", "中文句子。", "Done"]),
        ("line one\nline two", ["line one", "line two"]),
        ("", []),
    ],
)
def test_sentence_split(text, expected):
    table = sentence_split(pd.DataFrame({"id": [7], "text": [text]}), column="text")
    assert table["text"].tolist() == expected
    assert table["sentence_index"].tolist() == list(range(len(expected)))
    assert set(table["id"]) <= {7}


def test_ngrams_and_word_frequency_match_count_vectorizer(documents):
    counted = ngrams(documents, column="text", min_n=1, max_n=2)
    vectorizer = CountVectorizer(token_pattern=TOKEN, lowercase=False, ngram_range=(1, 2))
    matrix = vectorizer.fit_transform(documents["text"])
    expected = dict(zip(vectorizer.get_feature_names_out(), np.asarray(matrix.sum(axis=0)).ravel(), strict=True))
    assert dict(zip(counted["ngram"], counted["count"], strict=True)) == expected
    in_documents = dict(zip(vectorizer.get_feature_names_out(), np.asarray((matrix > 0).sum(axis=0)).ravel(), strict=True))
    assert dict(zip(counted["ngram"], counted["documents"], strict=True)) == in_documents
    characters = ngrams(pd.DataFrame({"text": ["北京 大学", "北京"]}), column="text", min_n=2, max_n=2, unit="character")
    analyzer = CountVectorizer(analyzer="char", ngram_range=(2, 2)).fit_transform(["北京大学", "北京"])
    assert characters["count"].sum() == analyzer.sum()
    assert characters.iloc[0].tolist() == ["北京", 2, 2, 2]
    frequency = word_frequency(documents, column="text", id_column="id")
    first = frequency[frequency["id"] == 1]
    assert dict(zip(first["word"], first["count"], strict=True)) == Counter(documents["text"].iloc[0].split())
    assert first["frequency"].sum() == pytest.approx(1.0)


def test_tfidf_matches_sklearn_and_applies_to_new_documents(documents):
    result = tfidf(documents, column="text", id_column="id", sublinear_tf=True)
    vectorizer = TfidfVectorizer(token_pattern=TOKEN, lowercase=False, sublinear_tf=True, max_features=1000)
    matrix = vectorizer.fit_transform(documents["text"]).toarray()
    terms = list(vectorizer.get_feature_names_out())
    for row in result.weights.sample(20, random_state=0).itertuples():
        assert row.tfidf == pytest.approx(matrix[row.id - 1, terms.index(row.term)])
        assert row.idf == pytest.approx(vectorizer.idf_[terms.index(row.term)])
    new = pd.DataFrame({"id": [99], "text": ["football coach bread unknownword"]})
    applied = predict(result.model, new)
    assert applied[[f"tfidf_{term}" for term in terms]].to_numpy() == pytest.approx(vectorizer.transform(new["text"]).toarray())
    assert "text" not in applied.columns and applied["id"].tolist() == [99]
    assert predict(result.model, pd.DataFrame({"text": [None]})).filter(like="tfidf_").to_numpy().sum() == 0


def test_bag_of_words_matches_count_vectorizer(documents):
    result = bag_of_words(documents, column="text", binary=True, max_n=2, min_df=2)
    vectorizer = CountVectorizer(token_pattern=TOKEN, lowercase=False, binary=True, ngram_range=(1, 2), min_df=2)
    expected = vectorizer.fit_transform(documents["text"]).toarray()
    assert result.vocabulary["term"].tolist() == list(vectorizer.get_feature_names_out())
    assert result.model.transform(documents).filter(like="bow_").to_numpy().tolist() == expected.tolist()


def test_tfidf_keywords_are_the_top_weights(documents):
    found = keywords(documents, column="text", method="tfidf", top_k=3, id_column="id")
    vectorizer = TfidfVectorizer(token_pattern=TOKEN, lowercase=False)
    matrix = vectorizer.fit_transform(documents["text"]).toarray()
    terms = vectorizer.get_feature_names_out()
    for position, document in enumerate(documents["id"]):
        order = sorted(range(len(terms)), key=lambda index: (-round(matrix[position, index], 12), terms[index]))[:3]
        mine = found[found["id"] == document]
        assert mine["keyword"].tolist() == [terms[index] for index in order if matrix[position, index] > 0]
        assert mine["score"].tolist() == pytest.approx([matrix[position, index] for index in order if matrix[position, index] > 0])


def test_textrank_is_networkx_pagerank_on_the_cooccurrence_graph():
    words = "data models learn from data and models predict data for users who learn models".split()
    found = keywords(pd.DataFrame({"text": [" ".join(words)]}), column="text", top_k=20, window=3)
    vocabulary, weights = cooccurrence(words, 3)
    graph = nx.Graph()
    graph.add_nodes_from(vocabulary)
    for i, a in enumerate(vocabulary):
        for j, b in enumerate(vocabulary):
            if weights[i, j]:
                graph.add_edge(a, b, weight=weights[i, j])
    expected = nx.pagerank(graph, weight="weight", tol=1e-10)
    assert dict(zip(found["keyword"], found["score"], strict=True)) == pytest.approx(expected, abs=1e-5)
    assert found["keyword"].iloc[0] == max(expected, key=expected.get)


def _slow_levenshtein(a: str, b: str) -> int:
    if not a or not b:
        return len(a) + len(b)
    return min(_slow_levenshtein(a[1:], b) + 1, _slow_levenshtein(a, b[1:]) + 1, _slow_levenshtein(a[1:], b[1:]) + (a[0] != b[0]))


def test_string_similarities():
    rng = np.random.default_rng(0)
    pairs = ["".join(rng.choice(list("abc"), rng.integers(0, 6))) for _ in range(30)]
    for a, b in zip(pairs[::2], pairs[1::2], strict=True):
        assert levenshtein(a, b) == _slow_levenshtein(a, b)
    assert levenshtein("kitten", "sitting") == 3 and levenshtein("北京大学", "北京") == 2
    table = pd.DataFrame({"a": ["red apple pie", "北京 大学", ""], "b": ["apple tart", "北京", ""]})
    jaccard = string_similarity(table, column="a", other_column="b", method="jaccard")["similarity"].tolist()
    assert jaccard == pytest.approx([1 / 4, 1 / 2, 1.0])
    cosine = string_similarity(table.head(2), column="a", other_column="b", method="cosine")["similarity"].tolist()
    vectorizer = CountVectorizer(token_pattern=TOKEN).fit(table["a"].tolist() + table["b"].tolist())
    expected = [cosine_similarity(vectorizer.transform([a]), vectorizer.transform([b]))[0, 0] for a, b in zip(table["a"][:2], table["b"][:2], strict=True)]
    assert cosine == pytest.approx(expected)
    characters = string_similarity(table.head(2), column="a", other_column="b", method="jaccard", unit="character")["similarity"].iloc[1]
    assert characters == pytest.approx(0.5)
    ratio = string_similarity(pd.DataFrame({"a": ["kitten"], "b": ["sitting"]}), column="a", other_column="b")["similarity"].iloc[0]
    assert ratio == pytest.approx(1 - 3 / 7)


def test_similar_documents_match_cosine_similarity(documents):
    found = similar_documents(documents, column="text", id_column="id", top_n=3)
    vectors = TfidfVectorizer(token_pattern=TOKEN, lowercase=False).fit_transform(documents["text"])
    scores = cosine_similarity(vectors)
    np.fill_diagonal(scores, -1)
    for position, document in enumerate(documents["id"]):
        order = [index for index in np.argsort(-scores[position], kind="stable")[:3] if scores[position, index] > 0]
        mine = found[found["id"] == document]
        assert mine["similar_id"].tolist() == documents["id"].iloc[order].tolist()
        assert mine["similarity"].tolist() == pytest.approx(scores[position, order].tolist())
    corpus = documents.head(8)
    queries = pd.DataFrame({"id": [100], "text": ["football coach team"]})
    against = similar_documents(queries, corpus, column="text", id_column="id", top_n=2, method="jaccard")
    assert against["similar_id"].tolist() == [8, 1]
    assert against["similarity"].tolist() == pytest.approx([3 / 6, 2 / 10])


def test_lda_and_nmf_match_sklearn(documents):
    result = lda(documents, column="text", topics=3, seed=1, max_iter=15)
    counts = CountVectorizer(token_pattern=TOKEN, lowercase=False, max_features=5000).fit(documents["text"])
    reference = LatentDirichletAllocation(n_components=3, learning_method="batch", max_iter=15, random_state=1)
    shares = reference.fit_transform(counts.transform(documents["text"]))
    assert result.documents[["topic_0", "topic_1", "topic_2"]].to_numpy() == pytest.approx(shares)
    assert result.model.transform(documents)[["topic_0", "topic_1", "topic_2"]].to_numpy() == pytest.approx(reference.transform(counts.transform(documents["text"])))
    top = result.topics[result.topics["rank"] == 1]
    terms = counts.get_feature_names_out()
    assert top["word"].tolist() == [terms[np.argmax(row)] for row in reference.components_]
    factored = nmf(documents, column="text", topics=3, seed=0)
    weights = TfidfVectorizer(token_pattern=TOKEN, lowercase=False, max_features=5000).fit_transform(documents["text"])
    loadings = NMF(n_components=3, init="nndsvda", max_iter=500, random_state=0).fit_transform(weights)
    assert factored.documents[["topic_0", "topic_1", "topic_2"]].to_numpy() == pytest.approx(loadings, abs=1e-6)
    assert factored.documents["topic"].tolist() == loadings.argmax(axis=1).tolist()


def test_word2vec_is_gensims(documents):
    from gensim.models import Word2Vec

    result = word2vec(documents, column="text", dimensions=12, window=3, epochs=5, seed=3)
    sentences = [text.split() for text in documents["text"]]
    reference = Word2Vec(sentences, vector_size=12, window=3, min_count=1, sg=1, negative=5, epochs=5, seed=3, workers=1)
    words = result.words.set_index("word")
    for word in ["football", "bread", "phone"]:
        assert words.loc[word, [f"w2v_{i}" for i in range(12)]].to_numpy(dtype=float) == pytest.approx(reference.wv[word].astype(float))
    first = result.documents.iloc[0][[f"w2v_{i}" for i in range(12)]].to_numpy(dtype=float)
    assert first == pytest.approx(reference.wv[sentences[0]].mean(axis=0).astype(float), abs=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: segment_words(pd.DataFrame({"text": [1, 2]}), column="text"), "not text"),
        (lambda: tfidf(pd.DataFrame({"text": pd.Series([], dtype=str)}), column="text"), "empty"),
        (lambda: tfidf(pd.DataFrame({"text": ["", " "]}), column="text"), "holds no words"),
        (lambda: ngrams(pd.DataFrame({"text": ["a b"]}), column="text", min_n=3, max_n=2), "min_n"),
        (lambda: word2vec(pd.DataFrame({"text": ["a b"]}), column="text", min_count=5), "min_count"),
        (lambda: nmf(pd.DataFrame({"text": ["a b", "b c"]}), column="text", topics=5), "more than"),
        (lambda: similar_documents(pd.DataFrame({"text": ["a"]}), pd.DataFrame({"body": ["a"]}), column="text"), "needs the columns"),
        (lambda: keywords(pd.DataFrame({"text": ["a"]}), column="missing"), "column 'missing' not found"),
    ],
)
def test_errors_say_what_and_where(call, message):
    with pytest.raises(DataError, match=message):
        call()


def test_text_example_pipeline(tmp_path):
    (tmp_path / "examples" / "data").mkdir(parents=True)
    shutil.copy(EXAMPLES / "text.yaml", tmp_path / "examples" / "text.yaml")
    shutil.copy(EXAMPLES / "data" / "documents.csv", tmp_path / "examples" / "data" / "documents.csv")
    result = tidal.run(tidal.load_pipeline(tmp_path / "examples" / "text.yaml"), workspace=tmp_path, workers=0)
    assert result.ok
    words = result.output("content_words").to_pandas()
    assert "足球比赛" in words["text"].iloc[24].split() and "的" not in words["text"].iloc[25].split()
    topics = result.output("topics", "topics").to_pandas()
    assert sorted(topics["topic"].unique()) == [0, 1, 2]
    documents = result.output("topics", "documents").to_pandas()
    english = documents[documents["id"] <= 24]
    assert english.groupby("topic")["topic"].size().max() <= 12
    assert (result.output("keywords").to_pandas().groupby("id").size() <= 3).all()
    assert result.output("sentences").num_rows >= 30
    assert len(result.output("similar").to_pandas()) > 0
