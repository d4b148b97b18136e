"""Which time-frequency bins a selection covers: a lasso or box in the projected embedding cloud,
or a time-frequency rectangle on the spectrogram.  The studio plays the covered bins alone
(:func:`sepviz.separate.listen_to_bins`) and lights them in both pictures."""
from __future__ import annotations

import math

import numpy as np

from .errors import SepvizInputError
from .viz import Projector


def points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Bool ``(n,)``: which points ``xy (n, 2)`` lie inside ``polygon (m, 2)`` (even-odd rule,
    the polygon closes itself), as plotly's lasso decides."""
    xy = np.asarray(xy, np.float64)
    poly = np.asarray(polygon, np.float64)
    if poly.ndim != 2 or poly.shape[0] < 3 or poly.shape[1] != 2:
        return np.zeros(len(xy), bool)
    x, y = xy[:, 0:1], xy[:, 1:2]
    x0, y0 = poly[:, 0][None], poly[:, 1][None]
    x1, y1 = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return ((crosses & (x < x_at)).sum(axis=1) % 2).astype(bool)


def _pair(values, name: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in values)
    except (TypeError, ValueError):
        raise SepvizInputError(f"the selection's {name} must be two numbers") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise SepvizInputError(f"the selection's {name} must be two finite numbers")
    return min(a, b), max(a, b)


def region_mask(v: np.ndarray, projector: Projector, *, lasso: np.ndarray | None = None,
                box: tuple | None = None, frames: tuple[int, int] | None = None) -> np.ndarray:
    """Bool ``(T, F)``: every bin (inside ``frames`` = (first, last + 1)) whose embedding, projected
    by a linear (PCA) ``projector``, falls inside the ``lasso`` polygon ``(m, 2)`` or the ``box``
    ``((x0, x1), (y0, y1))`` drawn on the cloud: the region stands for all bins, not only the
    subsample the cloud shows."""
    if not projector.linear:
        raise ValueError("only a linear (PCA) map places the bins the cloud does not show")
    v = np.asarray(v, np.float32)
    t, f, k = v.shape
    lo, hi = frames or (0, t)
    xy = projector.transform(v[lo:hi].reshape(-1, k))[:, :2]
    if lasso is not None:
        inside = points_in_polygon(xy, lasso)
    elif box is not None:
        (x0, x1), (y0, y1) = _pair(box[0], "x range"), _pair(box[1], "y range")
        inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    else:
        raise ValueError("give a lasso or a box")
    out = np.zeros((t, f), bool)
    out[lo:hi] = inside.reshape(hi - lo, f)
    return out


def bins_mask(shape: tuple[int, int], bins) -> np.ndarray:
    """Bool ``(T, F)`` with the flat bin indices ``bins`` set; indices off the grid are refused."""
    t, f = shape
    try:
        idx = np.asarray(list(bins), np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise SepvizInputError("the selection's bins must be whole numbers") from None
    if idx.size and (idx.min() < 0 or idx.max() >= t * f):
        raise SepvizInputError("the selection names bins this mixture does not have: separate it again and reselect")
    out = np.zeros(t * f, bool)
    out[idx] = True
    return out.reshape(t, f)


def rectangle_mask(shape: tuple[int, int], seconds: tuple, hertz: tuple, *, seconds_per_frame: float,
                   hz_per_bin: float) -> np.ndarray:
    """Bool ``(T, F)``: the bins whose frame time lies in ``seconds`` and whose frequency lies in
    ``hertz`` (a rectangle drawn on the spectrogram)."""
    t, f = shape
    s0, s1 = _pair(seconds, "time range")
    h0, h1 = _pair(hertz, "frequency range")
    times = np.arange(t) * seconds_per_frame
    freqs = np.arange(f) * hz_per_bin
    return ((times >= s0) & (times <= s1))[:, None] & ((freqs >= h0) & (freqs <= h1))[None, :]

