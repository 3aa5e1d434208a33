"""Image features for the image baseline: colour histogram + downscaled pixels.

Pure numpy, no file reading: input images are arrays (``(H, W, 3)`` RGB, ``(H, W, 4)``
RGBA with alpha dropped, or ``(H, W)`` grey, any dtype scaled to 0..255 for uint8) or PIL
images (converted with ``np.asarray``). Features per image:

* a per-channel histogram of ``bins`` equal-width bins over 0..255, as shares of pixels
  (3 x ``bins`` values);
* the image shrunk to ``size`` x ``size`` by area averaging (each output pixel is the mean
  of its block of input pixels), grey level, scaled to [0, 1] (``size**2`` values).

Crude on purpose: a baseline that says whether labels carry signal, not a vision model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin

from truthset.core.errors import InvalidInput

__all__ = ["ImageFeatures", "image_features"]

FloatArray = npt.NDArray[np.float64]


def _as_rgb(image: Any, position: int) -> FloatArray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInput(
            f"image {position} has shape {arr.shape}; expected (height, width, 3) RGB, "
            "(height, width, 4) RGBA or (height, width) grey, with height and width >= 1."
        )
    arr = arr[:, :, :3]
    if arr.dtype.kind == "f" and np.nanmax(arr, initial=0.0) <= 1.0:
        arr = arr * 255.0
    return np.clip(np.nan_to_num(arr.astype(np.float64)), 0.0, 255.0)


def _shrink(grey: FloatArray, size: int) -> FloatArray:
    """Area-average a ``(H, W)`` array to ``(size, size)`` (pixels repeated if smaller)."""
    h, w = grey.shape
    if h < size or w < size:
        grey = np.repeat(np.repeat(grey, -(-size // h), axis=0), -(-size // w), axis=1)
        h, w = grey.shape
    rows = np.linspace(0, h, size + 1).astype(np.int64)[:-1]
    cols = np.linspace(0, w, size + 1).astype(np.int64)[:-1]
    sums = np.add.reduceat(np.add.reduceat(grey, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.r_[rows, h]), np.diff(np.r_[cols, w]))
    out: FloatArray = sums / counts
    return out


def image_features(images: Any, *, size: int = 16, bins: int = 8) -> FloatArray:
    """``(n, 3 * bins + size * size)`` feature matrix for a sequence of images."""
    if size < 1 or bins < 1:
        raise InvalidInput(f"size and bins must be >= 1; got size={size}, bins={bins}.")
    rows = []
    for i, image in enumerate(images):
        rgb = _as_rgb(image, i)
        codes = np.minimum((rgb * (bins / 256.0)).astype(np.int64), bins - 1)
        codes += np.arange(3) * bins  # channel offset: one bincount for all three channels
        hist = np.bincount(codes.ravel(), minlength=3 * bins) / (rgb.shape[0] * rgb.shape[1])
        grey = rgb @ np.array([0.299, 0.587, 0.114])
        rows.append(np.concatenate([hist, _shrink(grey, size).ravel() / 255.0]))
    if not rows:
        raise InvalidInput("no images given; pass at least one image.")
    return np.vstack(rows)


class ImageFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """scikit-learn transformer wrapping :func:`image_features` (stateless)."""

    def __init__(self, *, size: int = 16, bins: int = 8) -> None:
        self.size = size
        self.bins = bins

    def fit(self, x: Any, y: Any = None) -> ImageFeatures:
        self.n_features_out_ = 3 * self.bins + self.size * self.size
        return self

    def transform(self, x: Any) -> FloatArray:
        return image_features(x, size=self.size, bins=self.bins)
