"""The classifier that learns from corrections: hashed features and SGD, one per workspace.

scikit-learn's ``SGDClassifier`` with ``partial_fit`` learns each correction the moment it is
made; ``log_loss`` gives probabilities, and a guess below the workspace's threshold goes to
the review queue. Its state is a handful of NumPy arrays saved as an ``.npz`` archive and
loaded with ``allow_pickle=False``, so a stored model is data, never code. Only the weight
columns some message ever touched are saved (the rest are zero), which keeps a model of a few
thousand corrections in the hundreds of kilobytes.

The class rows are category ids. A category added or removed changes the rows, so the model is
rebuilt from the stored examples (:meth:`Classifier.fit`): the examples, not the weights, are
the source of truth.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import SGDClassifier

N_FEATURES = 2**18
#: The model says nothing until it has seen this many examples of at least two categories:
#: one Junk message must not make it call everything spam.
MIN_EXAMPLES = 10
MIN_CLASSES = 2
FIT_EPOCHS = 5
FORMAT = 1


def _identity(doc: list[str]) -> list[str]:
    return doc


_VECTORIZER = HashingVectorizer(
    analyzer=_identity, n_features=N_FEATURES, alternate_sign=False, norm="l2"
)


def vectorize(docs: Sequence[list[str]]) -> Any:
    """The sparse rows of these feature lists (see :mod:`mailmatch.sorting.features`)."""
    return _VECTORIZER.transform(docs)


@dataclass(frozen=True)
class Prediction:
    category_id: int
    confidence: float


@dataclass(frozen=True)
class Weight:
    feature: str
    weight: float  # its push towards the predicted category (negative: away from it)

    def to_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "weight": round(self.weight, 4)}


def _estimator() -> SGDClassifier:
    return SGDClassifier(loss="log_loss", alpha=1e-5, random_state=0)


class Classifier:
    """One workspace's model over the category ids ``classes``."""

    def __init__(self, classes: Sequence[int]) -> None:
        self.classes = [int(c) for c in classes]
        self.counts: dict[int, int] = dict.fromkeys(self.classes, 0)
        self._sgd = _estimator()
        self._started = False

    # -- learning -----------------------------------------------------------------------------

    def learn(self, docs: Sequence[list[str]], labels: Sequence[int]) -> None:
        """One step of online learning on these examples (a correction, a Junk message)."""
        pairs = [(d, y) for d, y in zip(docs, labels, strict=True) if y in self.counts]
        if not pairs:
            return
        X = vectorize([d for d, _y in pairs])
        y = np.array([label for _d, label in pairs])
        if self._started:
            self._sgd.partial_fit(X, y)
        else:
            self._sgd.partial_fit(X, y, classes=np.array(self.classes))
            self._started = True
        for label in y:
            self.counts[int(label)] += 1

    def fit(self, docs: Sequence[list[str]], labels: Sequence[int]) -> None:
        """Learn from scratch: a few shuffled passes of the same online steps."""
        self.counts = dict.fromkeys(self.classes, 0)
        self._sgd = _estimator()
        self._started = False
        pairs = [(d, y) for d, y in zip(docs, labels, strict=True) if y in self.counts]
        if not pairs:
            return
        order = list(range(len(pairs)))
        rng = random.Random(0)
        X = vectorize([d for d, _y in pairs])
        y = np.array([label for _d, label in pairs])
        for _epoch in range(FIT_EPOCHS):
            rng.shuffle(order)
            for start in range(0, len(order), 64):
                rows = order[start : start + 64]
                if self._started:
                    self._sgd.partial_fit(X[rows], y[rows])
                else:
                    self._sgd.partial_fit(X[rows], y[rows], classes=np.array(self.classes))
                    self._started = True
        for label in y:
            self.counts[int(label)] += 1

    # -- predicting ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether it has learned enough to be asked (see ``MIN_EXAMPLES``)."""
        taught = [c for c, n in self.counts.items() if n > 0]
        return (
            self._started
            and len(taught) >= MIN_CLASSES
            and sum(self.counts.values()) >= MIN_EXAMPLES
        )

    def predict(self, docs: Sequence[list[str]]) -> list[Prediction]:
        """The most likely category of each, with its probability; [] when not ready."""
        if not self.ready or not docs:
            return []
        proba = self._sgd.predict_proba(vectorize(docs))
        best = proba.argmax(axis=1)
        classes = self._sgd.classes_
        return [Prediction(int(classes[i]), float(proba[row, i])) for row, i in enumerate(best)]

    def explain(self, doc: list[str], category_id: int, top: int = 8) -> list[Weight]:
        """The features of ``doc`` that pushed hardest towards (and against) ``category_id``."""
        if not self._started or category_id not in self.classes:
            return []
        unique = list(dict.fromkeys(doc))
        row = vectorize([doc])
        value = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        columns = vectorize([[f] for f in unique]).indices
        coef = self._sgd.coef_
        if coef.shape[0] == 1:  # binary: one row, positive towards classes_[1]
            sign = 1.0 if int(self._sgd.classes_[1]) == category_id else -1.0
            weights = coef[0] * sign
        else:
            weights = coef[list(self._sgd.classes_).index(category_id)]
        scored = [
            Weight(f, float(weights[col] * value.get(int(col), 0.0)))
            for f, col in zip(unique, columns, strict=True)
        ]
        scored = [w for w in scored if w.weight != 0.0]
        scored.sort(key=lambda w: abs(w.weight), reverse=True)
        return scored[:top]

    # -- storing ------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The model as an ``.npz`` archive of plain arrays (no pickled objects)."""
        arrays: dict[str, Any] = {
            "format": np.array([FORMAT]),
            "classes": np.array(self.classes, dtype=np.int64),
            "counts": np.array([self.counts[c] for c in self.classes], dtype=np.int64),
        }
        if self._started:
            coef = self._sgd.coef_
            columns = np.flatnonzero(np.any(coef != 0, axis=0)).astype(np.int32)
            arrays |= {
                "columns": columns,
                "coef": coef[:, columns].astype(np.float32),
                "intercept": self._sgd.intercept_.astype(np.float64),
                "t": np.array([self._sgd.t_]),
            }
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Classifier:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            if int(archive["format"][0]) != FORMAT:
                raise ValueError(f"unknown sorting model format {int(archive['format'][0])}")
            model = cls(archive["classes"].tolist())
            model.counts = dict(
                zip(model.classes, (int(n) for n in archive["counts"]), strict=True)
            )
            if "coef" not in archive:
                return model
            columns, packed = archive["columns"], archive["coef"]
            rows = len(model.classes) if len(model.classes) > 2 else 1
            coef = np.zeros((rows, N_FEATURES), dtype=np.float64)
            coef[:, columns] = packed
            sgd = model._sgd
            sgd.classes_ = np.array(model.classes)
            sgd.coef_ = coef
            sgd.intercept_ = archive["intercept"].copy()
            sgd.t_ = float(archive["t"][0])
            sgd.n_features_in_ = N_FEATURES
            model._started = True
        return model
