"""The shapes :mod:`.training` and :mod:`.training_tasks` share: a project's labelled items as
arrays (:class:`Dataset`), a fitted baseline with what its run stores (:class:`Fitted`), and
the model's text input (:func:`text_of`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from truthset.services.training_data import LabelChoice

__all__ = ["WORD_ONLY_ABOVE", "Dataset", "Fitted", "text_of"]

#: above this many training items the character n-grams and the terms seen in one item only
#: are left out: the fit and the saved model (skops writes the vocabulary entry by entry)
#: would grow several-fold for little gain
WORD_ONLY_ABOVE = 20_000


@dataclass
class Dataset:
    """A project's labelled items as arrays, aligned by position."""

    item_ids: npt.NDArray[np.int64]
    x: list[str]
    y: npt.NDArray[Any]
    confidence: npt.NDArray[np.float64]
    data: list[dict[str, Any]]
    annotators: npt.NDArray[np.int64]
    choice: LabelChoice
    unlabelled: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    #: each item's final label as stored (``y`` is a stratification key for multi-label and NER)
    targets: list[Any] = field(default_factory=list)
    #: what the model reads when it is not ``x`` (image arrays; ``x`` then holds each image's sha256)
    inputs: list[Any] | None = None
    #: items left out, by reason (e.g. an image that cannot be read)
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.item_ids.size)

    def model_input(self, positions: Any) -> list[Any]:
        """The model's inputs at ``positions`` (texts, or images)."""
        src = self.x if self.inputs is None else self.inputs
        return [src[i] for i in positions]

    def subset(self, keep: list[int]) -> Dataset:
        """The items at positions ``keep`` (everything else unchanged)."""
        pos = np.asarray(keep, dtype=np.int64)
        return Dataset(
            self.item_ids[pos],
            [self.x[i] for i in keep],
            self.y[pos],
            self.confidence[pos],
            [self.data[i] for i in keep],
            self.annotators[pos],
            self.choice,
            self.unlabelled,
            self.by_source,
            [self.targets[i] for i in keep],
            None if self.inputs is None else [self.inputs[i] for i in keep],
            self.skipped,
        )


def text_of(data: dict[str, Any], fields: list[str]) -> str:
    """The model's input: the named payload fields joined with `` [SEP] `` (missing: empty)."""
    return " [SEP] ".join("" if data.get(f) is None else str(data.get(f)) for f in fields)


@dataclass
class Fitted:
    """A fitted baseline and what a run stores of it."""

    model: Any
    name: str
    classes: list[str]
    metrics: dict[str, Any]
    #: (item id, side, label JSON, prediction JSON, probabilities JSON or None) per test and validation item
    rows: list[tuple[int, str, str, str, str | None]]
    config: dict[str, Any] = field(default_factory=dict)
