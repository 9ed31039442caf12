"""Intent recognition learned from the knowledge base's example questions.

Model: TF-IDF of word 1-2-grams and of character 2-5-grams (within word boundaries, which
tolerates typos) over lower-cased text whose numbers of 3+ digits (order ids) are one token,
a linear SVM (one-vs-rest), and a softmax over its scores whose temperature is fitted on
out-of-fold scores (temperature scaling, 3 folds), so ``probability`` is calibrated on
messages like the KB's own.

A calibrated probability still says nothing about messages unlike any in the KB (a product
question, small talk, another language): the softmax must pick one of the KB's intents. So
the confidence is damped by an in-domain factor, the cosine similarity of the message to its
nearest KB example divided by a floor learned from the KB itself (the ``ood_quantile`` of the
leave-one-out nearest-neighbour similarities of up to 1,000 sampled examples), capped at 1.
Messages below ``threshold`` are routed to a human. Both the temperature and the floor come
from the KB only, never from out-of-domain examples.

Persistence: the vocabularies, IDF weights, SVM coefficients and the examples' TF-IDF matrix
are saved as ``intents.json`` + ``intents.npz`` (no pickle, with :mod:`storewise.persist`) and
loaded without refitting, so a CLI call answers in milliseconds and a saved model keeps
answering the same way after a scikit-learn upgrade. The JSON records the KB checksum and the
SHA-256 of itself and of the arrays.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from storewise import persist
from storewise.errors import ArtifactError, InputError, NotFitted
from storewise.support.kb import KnowledgeBase

__all__ = [
    "INTENTS_ARRAYS",
    "INTENTS_FILENAME",
    "Classification",
    "IntentConfig",
    "IntentModel",
    "IntentPrediction",
    "IntentReport",
    "evaluate_intents",
    "score_intents",
    "split_examples",
]

#: File names of a saved intent model inside a support folder.
INTENTS_FILENAME = "intents.json"
INTENTS_ARRAYS = "intents.npz"
_FORMAT = "storewise.support.intents"
_VERSION = 1

FloatArray = npt.NDArray[np.float64]


class IntentConfig(BaseModel):
    """Hyperparameters of the intent model, each declared once with its meaning."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    word_ngrams: tuple[int, int] = Field(default=(1, 2), description="word n-gram range")
    char_ngrams: tuple[int, int] = Field(default=(2, 5), description="char_wb n-gram range")
    svm_c: float = Field(default=0.5, gt=0, description="inverse regularisation of the SVM")
    threshold: float = Field(
        default=0.6, ge=0, le=1, description="confidence below which a human takes over"
    )
    calibration_folds: int = Field(default=3, ge=2, description="folds for temperature scaling")
    default_temperature: float = Field(
        default=6.0, gt=0, description="softmax temperature when the KB is too small to fit one"
    )
    ood_quantile: float = Field(
        default=0.01, gt=0, lt=0.5, description="quantile of KB self-similarity used as floor"
    )
    seed: int = Field(default=0, description="random seed of the SVM and the folds")


class IntentPrediction(BaseModel):
    """The recognised intent of one message, with how sure the model is."""

    model_config = ConfigDict(frozen=True)

    intent: str = Field(description="best-guess intent, even when needs_human")
    confidence: float = Field(description="probability x in_domain, compared to the threshold")
    probability: float = Field(description="calibrated probability among the KB's intents")
    in_domain: float = Field(description="1 = as close to the KB as its own examples, 0 = alien")
    needs_human: bool
    alternatives: tuple[tuple[str, float], ...] = Field(
        description="the top intents with their probabilities, best first"
    )


class Classification(NamedTuple):
    """One row of a batch classification; ``intent`` is None when a human should answer."""

    message: str
    intent: str | None
    confidence: float


_NUMBER = re.compile(r"#?\d[\d-]{2,}")


def _normalize_text(text: str) -> str:
    """Lower case with every number of 3+ digits (order ids, amounts) as one token "0000"."""
    return _NUMBER.sub(" 0000 ", text.lower())


class _Featurizer:
    """Word + char TF-IDF with fixed vocabularies, rebuilt from plain arrays."""

    def __init__(
        self,
        config: IntentConfig,
        word_terms: Sequence[str],
        word_idf: FloatArray,
        char_terms: Sequence[str],
        char_idf: FloatArray,
    ) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self.word_terms = list(word_terms)
        self.char_terms = list(char_terms)
        self.word_idf = word_idf
        self.char_idf = char_idf
        self._word = CountVectorizer(
            preprocessor=_normalize_text,
            ngram_range=config.word_ngrams,
            vocabulary={t: i for i, t in enumerate(self.word_terms)},
            dtype=np.float64,
        )
        self._char = CountVectorizer(
            preprocessor=_normalize_text,
            analyzer="char_wb",
            ngram_range=config.char_ngrams,
            vocabulary={t: i for i, t in enumerate(self.char_terms)},
            dtype=np.float64,
        )
        self.transform([""])  # validates the vocabularies now, not racily on a first request

    @classmethod
    def fit(cls, config: IntentConfig, texts: Sequence[str]) -> tuple[_Featurizer, sp.csr_matrix]:
        """Learn vocabularies and smoothed IDF (as scikit-learn's TfidfVectorizer does) and
        return the featurizer with the texts' matrix, analysing each text once."""
        from sklearn.feature_extraction.text import CountVectorizer

        parts = []
        for options in (
            {"ngram_range": config.word_ngrams},
            {"ngram_range": config.char_ngrams, "analyzer": "char_wb"},
        ):
            vectorizer = CountVectorizer(
                preprocessor=_normalize_text,
                dtype=np.float64,
                **options,
            )
            try:
                counts = sp.csr_matrix(vectorizer.fit_transform(texts), dtype=np.float64)
            except ValueError as exc:  # every example without a word of two letters
                raise InputError(f"the KB examples have no usable words ({exc})") from exc
            df = np.bincount(counts.indices, minlength=counts.shape[1])
            idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
            parts.append((vectorizer.get_feature_names_out().tolist(), idf, counts))
        (word_terms, word_idf, word_counts), (char_terms, char_idf, char_counts) = parts
        featurizer = cls(config, word_terms, word_idf, char_terms, char_idf)
        blocks = [_weight(word_counts, word_idf), _weight(char_counts, char_idf)]
        return featurizer, sp.csr_matrix(sp.hstack(blocks, format="csr"))

    @property
    def n_features(self) -> int:
        return len(self.word_terms) + len(self.char_terms)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Rows of [word tf-idf | char tf-idf] / sqrt(2), each half L2-normalised."""
        blocks = [
            _weight(sp.csr_matrix(self._word.transform(texts), dtype=np.float64), self.word_idf),
            _weight(sp.csr_matrix(self._char.transform(texts), dtype=np.float64), self.char_idf),
        ]
        return sp.csr_matrix(sp.hstack(blocks, format="csr"))


def _weight(counts: sp.csr_matrix, idf: FloatArray) -> sp.csr_matrix:
    """Sublinear tf x idf, each row scaled to norm 1/sqrt(2) (two halves make a unit row)."""
    data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    lengths = np.diff(counts.indptr)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    norms = np.sqrt(np.bincount(rows, weights=data**2, minlength=len(lengths)))
    weighted = counts.copy()
    weighted.data = data / (norms[rows] * np.sqrt(2.0))
    return weighted


def _fit_svm(
    config: IntentConfig, x: sp.csr_matrix, y: npt.NDArray[np.int64], k: int
) -> tuple[FloatArray, FloatArray]:
    """Weights (k x features) and intercepts (k) of a one-vs-rest linear SVM."""
    from sklearn.svm import LinearSVC

    if k == 1:
        return np.zeros((1, x.shape[1])), np.zeros(1)
    svm = LinearSVC(C=config.svm_c, random_state=config.seed)
    svm.fit(x, y)
    coef = np.asarray(svm.coef_, dtype=np.float64)
    intercept = np.asarray(svm.intercept_, dtype=np.float64)
    if k == 2:  # sklearn returns one row for two classes: score of class 1
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept


def _softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return result


def _fit_temperature(scores: FloatArray, y: npt.NDArray[np.int64]) -> float:
    """The softmax temperature minimising the negative log-likelihood of the true labels."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(y))

    def nll(t: float) -> float:
        z = scores * t
        z = z - z.max(axis=1, keepdims=True)
        log_p = z[rows, y] - np.log(np.exp(z).sum(axis=1))
        return float(-log_p.mean())

    result = minimize_scalar(nll, bounds=(0.05, 200.0), method="bounded")
    return float(result.x)


def _nearest_similarity(queries: sp.csr_matrix, examples_t: sp.csr_matrix) -> FloatArray:
    """Cosine similarity of each query row to its nearest example (``examples_t``: features x
    examples); rows are unit vectors, so the dot product is the cosine."""
    out = np.zeros(queries.shape[0])
    step = 512
    for start in range(0, queries.shape[0], step):
        block = (queries[start : start + step] @ examples_t).toarray()
        out[start : start + step] = block.max(axis=1) if block.shape[1] else 0.0
    return out


class IntentModel:
    """Recognises which KB intent a customer message expresses, or that none does."""

    def __init__(self, config: IntentConfig | None = None) -> None:
        self.config = config or IntentConfig()
        self._features: _Featurizer | None = None
        self.classes_: list[str] = []
        self.coef_: FloatArray = np.zeros((0, 0))
        self.intercept_: FloatArray = np.zeros(0)
        self.temperature_: float = self.config.default_temperature
        self.similarity_floor_: float = 0.0
        self.kb_checksum_: str | None = None
        self._examples: sp.csr_matrix = sp.csr_matrix((0, 0))
        self._examples_t: sp.csr_matrix = sp.csr_matrix((0, 0))

    def _set_examples(self, x: sp.csr_matrix) -> None:
        self._examples = x
        self._examples_t = sp.csr_matrix(x.T)

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` or :meth:`load` has run."""
        return self._features is not None

    def fit(self, kb: KnowledgeBase) -> Self:
        """Learn intents from the KB's examples; returns self."""
        texts, labels = kb.examples()
        self.fit_texts(texts, labels)
        self.kb_checksum_ = kb.checksum()
        return self

    def fit_texts(self, texts: Sequence[str], labels: Sequence[str]) -> Self:
        """Learn from parallel lists of example messages and their intents; returns self."""
        if len(texts) != len(labels) or not texts:
            raise InputError("intent training needs as many labels as texts, and at least one")
        config = self.config
        classes = sorted(set(labels))
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[label] for label in labels], dtype=np.int64)
        features, x = _Featurizer.fit(config, texts)
        coef, intercept, temperature = self._fit_and_calibrate(x, y, len(classes))
        self._features, self.classes_ = features, classes
        self.coef_, self.intercept_, self.temperature_ = coef, intercept, temperature
        self._set_examples(x)
        self_sim = self._self_similarity(x)
        floor = float(np.quantile(self_sim, config.ood_quantile))
        self.similarity_floor_ = float(np.clip(floor, 0.05, 0.9))
        self.kb_checksum_ = None
        return self

    def _self_similarity(self, x: sp.csr_matrix) -> FloatArray:
        """Leave-one-out nearest-example similarity of (at most 1,000 sampled) examples."""
        n = x.shape[0]
        if n < 2:
            return np.ones(1)
        rows = np.arange(n)
        if n > 1000:
            rows = np.sort(np.random.default_rng(self.config.seed).choice(n, 1000, replace=False))
        sims = (x[rows] @ self._examples_t).toarray()
        sims[np.arange(len(rows)), rows] = -1.0
        result: FloatArray = sims.max(axis=1)
        return result

    def _fit_and_calibrate(
        self, x: sp.csr_matrix, y: npt.NDArray[np.int64], k: int
    ) -> tuple[FloatArray, FloatArray, float]:
        """SVM weights on all examples, and the temperature fitted on out-of-fold scores.

        The final fit and the fold fits run in threads (liblinear releases the GIL); each fit
        has its own seed, so the result does not depend on the number of threads.
        """
        from sklearn.model_selection import StratifiedKFold

        config = self.config
        smallest = int(np.bincount(y).min()) if k > 1 else 0
        folds = min(config.calibration_folds, smallest)
        splits = []
        if k > 1 and folds >= 2:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
            splits = list(splitter.split(np.zeros(len(y)), y))
        workers = max(1, min(len(splits) + 1, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            final = pool.submit(_fit_svm, config, x, y, k)
            fits = [pool.submit(_fit_svm, config, x[train], y[train], k) for train, _ in splits]
            coef, intercept = final.result()
            if not splits:
                return coef, intercept, config.default_temperature
            scores = np.zeros((x.shape[0], k))
            for (_, test), fit in zip(splits, fits, strict=True):
                fold_coef, fold_intercept = fit.result()
                scores[test] = np.asarray(x[test] @ fold_coef.T) + fold_intercept
        return coef, intercept, _fit_temperature(scores, y)

    def _require(self) -> _Featurizer:
        if self._features is None:
            raise NotFitted(
                "the intent model is not trained: call IntentModel.fit(kb) or load a support "
                "folder created by `storewise support load-kb FILE`"
            )
        return self._features

    def probabilities(self, messages: Sequence[str]) -> FloatArray:
        """Calibrated probabilities, one row per message, columns in ``classes_`` order."""
        features = self._require()
        x = features.transform(messages)
        return _softmax((np.asarray(x @ self.coef_.T) + self.intercept_) * self.temperature_)

    def predict_many(self, messages: Sequence[str]) -> list[IntentPrediction]:
        """Predict the intent of each message (blank messages get confidence 0)."""
        features = self._require()
        if not messages:
            return []
        x = features.transform(messages)
        probs = _softmax((np.asarray(x @ self.coef_.T) + self.intercept_) * self.temperature_)
        sims = _nearest_similarity(x, self._examples_t)
        in_domain = np.clip(sims / self.similarity_floor_, 0.0, 1.0)
        results = []
        top_n = min(3, len(self.classes_))
        for row, domain in zip(probs, in_domain, strict=True):
            order = np.argsort(-row, kind="stable")[:top_n]
            best = int(order[0])
            confidence = float(row[best] * domain)
            results.append(
                IntentPrediction(
                    intent=self.classes_[best],
                    confidence=round(confidence, 6),
                    probability=round(float(row[best]), 6),
                    in_domain=round(float(domain), 6),
                    needs_human=confidence < self.config.threshold,
                    alternatives=tuple(
                        (self.classes_[int(i)], round(float(row[i]), 6)) for i in order
                    ),
                )
            )
        return results

    def predict(self, message: str) -> IntentPrediction:
        """Predict the intent of one message."""
        return self.predict_many([message])[0]

    def classify(self, messages: Iterable[str]) -> list[Classification]:
        """Batch (message, intent or None, confidence); None means route to a human."""
        items = list(messages)
        return [
            Classification(m, None if p.needs_human else p.intent, p.confidence)
            for m, p in zip(items, self.predict_many(items), strict=True)
        ]

    # -- persistence ---------------------------------------------------------------------

    def _arrays(self) -> dict[str, npt.NDArray[Any]]:
        features = self._require()
        x = self._examples
        return {
            "word_idf": features.word_idf,
            "char_idf": features.char_idf,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "examples_data": x.data,
            "examples_indices": x.indices.astype(np.int64),
            "examples_indptr": x.indptr.astype(np.int64),
            "examples_shape": np.array(x.shape, dtype=np.int64),
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``intents.json`` + ``intents.npz`` into ``folder``; returns the JSON path."""
        features = self._require()
        target = Path(folder)
        document = {
            "format": _FORMAT,
            "version": _VERSION,
            "config": self.config.model_dump(mode="json"),
            "classes": self.classes_,
            "word_terms": features.word_terms,
            "char_terms": features.char_terms,
            "temperature": self.temperature_,
            "similarity_floor": self.similarity_floor_,
            "kb_checksum": self.kb_checksum_,
        }
        path = target / INTENTS_FILENAME
        persist.save(
            path,
            document,
            self._arrays(),
            arrays_path=target / INTENTS_ARRAYS,
            compress=True,
            indent=None,
        )
        return path

    @classmethod
    def load(cls, folder: str | Path) -> IntentModel:
        """Read a model written by :meth:`save`; ArtifactError if missing or corrupt."""
        target = Path(folder)
        path, arrays_path = target / INTENTS_FILENAME, target / INTENTS_ARRAYS
        if not path.is_file() or not arrays_path.is_file():
            raise ArtifactError(f"no intent model in '{target}' (intents.json + intents.npz)")
        # models saved before the document carried its own checksum verify only the arrays
        document, arrays = persist.load(path, arrays_path=arrays_path, legacy=True)
        if document.get("format") != _FORMAT or document.get("version") != _VERSION:
            raise ArtifactError(f"{path}: not a storewise intent model of version {_VERSION}")
        try:
            model = cls(IntentConfig.model_validate(document["config"]))
            model._features = _Featurizer(
                model.config,
                document["word_terms"],
                arrays["word_idf"],
                document["char_terms"],
                arrays["char_idf"],
            )
            model.classes_ = list(document["classes"])
            model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
            model.temperature_ = float(document["temperature"])
            model.similarity_floor_ = float(document["similarity_floor"])
            model.kb_checksum_ = document.get("kb_checksum")
            shape = tuple(int(v) for v in arrays["examples_shape"])
            model._set_examples(
                sp.csr_matrix(
                    (
                        arrays["examples_data"],
                        arrays["examples_indices"],
                        arrays["examples_indptr"],
                    ),
                    shape=shape,
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactError(f"{path}: unreadable intent model ({exc})") from exc
        k, n = model.coef_.shape
        if k != len(model.classes_) or n != model._features.n_features or shape[1] != n:
            raise ArtifactError(f"{path}: arrays do not match the vocabulary or the classes")
        return model


class IntentReport(BaseModel):
    """Held-out quality of the intent model: accuracy, macro-F1, confusion, routing."""

    accuracy: float
    macro_f1: float
    labels: list[str]
    confusion: list[list[int]] = Field(description="rows = true intent, columns = predicted")
    n_train: int
    n_test: int
    answered_rate: float = Field(description="share of test messages above the threshold")
    answered_accuracy: float = Field(description="accuracy on the answered messages")
    expected_calibration_error: float = Field(description="ECE of the probability, 10 bins")


def split_examples(
    kb: KnowledgeBase, *, test_size: float = 0.2, seed: int = 0
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Stratified (train texts, test texts, train labels, test labels) of the KB's examples."""
    from sklearn.model_selection import train_test_split

    texts, labels = kb.examples()
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=test_size, stratify=labels, random_state=seed
    )
    return list(x_train), list(x_test), list(y_train), list(y_test)


def score_intents(model: IntentModel, texts: Sequence[str], labels: Sequence[str]) -> IntentReport:
    """Accuracy, macro-F1, confusion matrix, routing and calibration on labelled messages."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    predictions = model.predict_many(texts)
    predicted = [p.intent for p in predictions]
    names = model.classes_
    correct = np.array([p == t for p, t in zip(predicted, labels, strict=True)])
    answered = np.array([not p.needs_human for p in predictions])
    probs = np.array([p.probability for p in predictions])
    bins = np.minimum((probs * 10).astype(int), 9)
    ece = sum(
        float(np.mean(bins == b)) * abs(float(correct[bins == b].mean() - probs[bins == b].mean()))
        for b in range(10)
        if np.any(bins == b)
    )
    return IntentReport(
        accuracy=float(accuracy_score(labels, predicted)),
        macro_f1=float(f1_score(labels, predicted, average="macro")),
        labels=names,
        confusion=confusion_matrix(labels, predicted, labels=names).tolist(),
        n_train=int(model._examples.shape[0]),
        n_test=len(texts),
        answered_rate=float(answered.mean()),
        answered_accuracy=float(correct[answered].mean()) if answered.any() else 0.0,
        expected_calibration_error=ece,
    )


def evaluate_intents(
    kb: KnowledgeBase, *, test_size: float = 0.2, seed: int = 0, config: IntentConfig | None = None
) -> IntentReport:
    """Fit on a stratified split of the KB's examples and score the held-out part."""
    x_train, x_test, y_train, y_test = split_examples(kb, test_size=test_size, seed=seed)
    model = IntentModel(config).fit_texts(x_train, y_train)
    return score_intents(model, x_test, y_test)
