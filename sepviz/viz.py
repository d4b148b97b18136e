"""Plotly figures for the studio: spectrograms, masks, embedding clouds, compare grids, atlases.

Pure functions of numpy arrays (no Gradio here).  Everything that lands in a figure is kept
small: spectrograms are max-pooled in time and sent as int8 dB, masks as uint8 percent, clouds
are a seeded subsample of the T-F bins in float32 (plotly serialises numpy arrays as compact
base64 typed arrays), and :func:`figure_json_size` measures the payload.

Projections: :func:`project` fits PCA (numpy SVD) or UMAP on the plotted bins and returns the
fitted :class:`Projector`, so attractors, anchors and GMM means go through *the same* map.  For
PCA a Gaussian's covariance projects exactly as ``W Σ Wᵀ`` (the marginal of an affine map), so
the GMM's 1- and 2-sigma ellipses are drawn in the projected space; UMAP is non-linear, so no
ellipses there (a note says so) and attractors are placed with ``umap.transform``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

VOICE_COLORS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777"]
LABEL_COLORS = {"female": "#db2777", "male": "#2563eb"}
MAX_FIGURE_BYTES = 5_000_000
UMAP_MAX_POINTS = 5000
DEFAULT_POINTS = 3000
MAX_POINTS = 20000
MAX_COLUMNS = 500  # spectrogram/mask columns after time pooling
TEMPLATE = "plotly_white"
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=12)


def voice_color(i: int) -> str:
    return VOICE_COLORS[i % len(VOICE_COLORS)]


LABEL_PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0891b2", "#ca8a04", "#4b5563",
                 "#dc2626", "#65a30d", "#7c3aed", "#0d9488"]


def label_color(label: str, i: int) -> str:
    return LABEL_COLORS.get(str(label).lower(), LABEL_PALETTE[i % len(LABEL_PALETTE)])


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i: i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# ----------------------------------------------------------------------------- payload size
def figure_json_size(fig: go.Figure) -> int:
    """Bytes of the JSON the browser receives for ``fig``."""
    return len(fig.to_json())


def check_figure_size(fig: go.Figure, limit: int = MAX_FIGURE_BYTES) -> int:
    """Return the JSON size, raising ``ValueError`` when it exceeds ``limit``."""
    n = figure_json_size(fig)
    if n > limit:
        raise ValueError(f"figure JSON is {n / 1e6:.1f} MB (limit {limit / 1e6:.1f} MB)")
    return n


# ----------------------------------------------------------------------------- projections
@dataclass
class Projector:
    """A fitted 2-D/3-D map of K-dimensional embeddings (PCA or UMAP)."""

    method: str
    dims: int
    mean: np.ndarray | None = None          # PCA centre (K,)
    components: np.ndarray | None = None    # PCA W (dims, K), rows orthonormal
    explained: np.ndarray | None = None     # PCA explained-variance ratio (dims,)
    model: object | None = None             # fitted umap.UMAP

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if self.method == "pca":
            return ((x - self.mean) @ self.components.T).astype(np.float32)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.model.transform(x), dtype=np.float32)

    @property
    def linear(self) -> bool:
        return self.method == "pca"

    def project_covariance(self, cov: np.ndarray) -> np.ndarray:
        """``W Σ Wᵀ``: the covariance of the projected Gaussian (PCA only)."""
        if not self.linear:
            raise ValueError("covariances cannot be projected through a non-linear UMAP map")
        w = self.components.astype(np.float64)
        return w @ np.asarray(cov, dtype=np.float64) @ w.T

    def axis_titles(self) -> list[str]:
        if self.method == "pca":
            ev = self.explained if self.explained is not None else [np.nan] * self.dims
            return [f"PC{i + 1} ({100 * ev[i]:.0f} %)" for i in range(self.dims)]
        return [f"UMAP {i + 1}" for i in range(self.dims)]


def fit_pca(points: np.ndarray, dims: int = 2) -> Projector:
    x = np.asarray(points, dtype=np.float64)
    mean = x.mean(axis=0)
    xc = x - mean
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    w = vt[:dims]
    if w.shape[0] < dims:  # fewer features than dims: pad with zero axes
        w = np.vstack([w, np.zeros((dims - w.shape[0], x.shape[1]))])
        s = np.concatenate([s, np.zeros(dims - len(s))])
    # Deterministic signs: the largest loading of each axis is positive.
    signs = np.sign(w[np.arange(dims), np.abs(w).argmax(axis=1)])
    signs[signs == 0] = 1
    w = w * signs[:, None]
    var = s ** 2
    explained = var[:dims] / max(var.sum(), 1e-12)
    return Projector("pca", dims, mean=mean, components=w, explained=explained)


def umap_epochs(n: int) -> int:
    """Fewer epochs for more points: enough to converge, bounded time (n <= UMAP_MAX_POINTS)."""
    return 200 if n <= 1000 else 150 if n <= 2000 else 100 if n <= 3500 else 80


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    d = a @ b.T
    d *= -2.0
    d += (a * a).sum(1)[:, None]
    d += (b * b).sum(1)[None]
    return np.maximum(d, 0.0, out=d)


def exact_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (self first, at distance 0): ``(indices, distances)`` (n, k).

    torch's cdist + topk: ~5x faster than numpy's argpartition here."""
    import torch

    xt = torch.as_tensor(np.asarray(x, np.float32))
    n = len(xt)
    idx_out = np.empty((n, k), np.int64)
    dist_out = np.empty((n, k), np.float32)
    with torch.no_grad():
        for s in range(0, n, 1024):
            d = torch.cdist(xt[s: s + 1024], xt)
            r = torch.arange(d.shape[0])
            d[r, s + r] = -1.0  # self is always the first neighbour
            vals, idx = torch.topk(d, k, dim=1, largest=False, sorted=True)
            idx_out[s: s + len(r)] = idx.numpy()
            dist_out[s: s + len(r)] = vals.clamp_min(0).numpy()
    return idx_out, dist_out


def knn_graph(idx: np.ndarray, dist: np.ndarray):
    """The kNN distances as a symmetric scipy CSR matrix (self excluded), for ``metric="precomputed"``."""
    import scipy.sparse as sp

    n, k = idx.shape
    rows = np.repeat(np.arange(n), k - 1)
    g = sp.csr_matrix((dist[:, 1:].ravel().astype(np.float64) + 1e-6, (rows, idx[:, 1:].ravel())), shape=(n, n))
    return g.maximum(g.T).tocsr()


class _UmapMap:
    """A fitted UMAP on precomputed kNN distances; ``transform`` feeds it distances to the data."""

    def __init__(self, model, data: np.ndarray) -> None:
        self.model, self.data = model, data

    def transform(self, x: np.ndarray) -> np.ndarray:
        d = np.sqrt(_sq_dists(x, self.data)).astype(np.float64) + 1e-6
        return self.model.transform(d)


def fit_umap(points: np.ndarray, dims: int = 2, seed: int = 0, n_epochs: int | None = None,
             n_neighbors: int = 15, min_dist: float = 0.1) -> tuple[np.ndarray, Projector]:
    import warnings

    import umap

    x = np.asarray(points, dtype=np.float64)
    if len(x) > UMAP_MAX_POINTS:
        raise ValueError(f"UMAP is limited to {UMAP_MAX_POINTS} points here (got {len(x)}); subsample first")
    if len(x) < 4:
        raise ValueError("UMAP needs at least 4 points")
    # umap-learn's own small-data path calls sklearn's pairwise_distances with a numba metric (one
    # Python call per pair: minutes for 4000 points) and its large-data path needs a long NN-descent
    # JIT.  Exact kNN in numpy takes well under a second for <= 5000 points and is one code path.
    k = max(3, min(n_neighbors, len(x)))
    idx, dist = exact_knn(x, k)
    # Start from the (scaled) PCA layout: deterministic, and it skips the spectral initialisation,
    # which is slow (ARPACK) on the many small components that speech embeddings form.
    init = fit_pca(x, dims).transform(x).astype(np.float64)
    init = 10.0 * init / max(float(np.abs(init).max()), 1e-12)
    model = umap.UMAP(n_components=dims, n_neighbors=k, min_dist=min_dist, metric="precomputed",
                      precomputed_knn=(idx, dist), n_epochs=n_epochs or umap_epochs(len(x)), random_state=seed,
                      transform_seed=seed, init=init, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = model.fit_transform(knn_graph(idx, dist))
    return np.asarray(coords, dtype=np.float32), Projector("umap", dims, model=_UmapMap(model, x))


def project(points: np.ndarray, method: str = "pca", dims: int = 2, seed: int = 0, **kw
            ) -> tuple[np.ndarray, Projector]:
    """Fit a ``method`` ("pca" | "umap") map to ``dims`` (2 | 3) and return ``(coords, projector)``."""
    method = method.lower()
    if dims not in (2, 3):
        raise ValueError("dims must be 2 or 3")
    if method == "pca":
        p = fit_pca(points, dims)
        return p.transform(points), p
    if method == "umap":
        return fit_umap(points, dims, seed, **kw)
    raise ValueError(f"unknown projection {method!r}; choose 'pca' or 'umap'")


def warm_up_umap() -> None:
    """Trigger numba's JIT compilation (fit and transform) on tiny data: ~5-15 s once per process.

    Every fit here goes through the same precomputed-kNN path, so this one warm-up covers all
    later fits and transforms."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    for dims in (2, 3):
        _, p = fit_umap(x, dims, n_epochs=10)
        p.transform(x[:3])


# ----------------------------------------------------------------------------- the T-F cloud
@dataclass
class Cloud:
    """A seeded subsample of T-F bins and their projected embeddings."""

    coords: np.ndarray       # (n, dims) float32
    index: np.ndarray        # (n,) flat indices into the (T, F) grid
    shape: tuple[int, int]   # (T, F)
    power_db: np.ndarray     # (n,) bin level relative to the loudest bin
    projector: Projector
    seconds_per_frame: float = 1.0
    hz_per_bin: float = 1.0
    n_candidates: int = 0    # bins eligible before subsampling
    # a learned front-end's latent: each row is a filter, not a frequency bin, and this holds each
    # filter's centre frequency in Hz (F,), in the stored row order; None: the STFT's bins
    row_hz: np.ndarray | None = None

    @property
    def frame(self) -> np.ndarray:
        return self.index // self.shape[1]

    @property
    def freq_bin(self) -> np.ndarray:
        return self.index % self.shape[1]

    def take(self, grid: np.ndarray) -> np.ndarray:
        """Values of a ``(T, F)`` array (e.g. an assignment) at the plotted bins."""
        return np.asarray(grid).reshape(-1)[self.index]

    @classmethod
    def from_points(cls, points: np.ndarray, method: str = "pca", dims: int = 2, seed: int = 0,
                    power_db: np.ndarray | None = None) -> "Cloud":
        """A cloud of arbitrary points (no T-F grid), e.g. for teaching figures."""
        coords, proj = project(points, method, dims, seed)
        n = len(points)
        return cls(coords, np.arange(n), (n, 1), np.zeros(n, np.float32) if power_db is None else power_db,
                   proj, n_candidates=n)


def subsample(candidates: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Seeded subsample (sorted) of the indices ``candidates``."""
    candidates = np.asarray(candidates)
    if len(candidates) <= n:
        return candidates
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(candidates, size=n, replace=False))


def frame_window(n_frames: int, seconds_per_frame: float, time_range: tuple[float, float] | None
                 ) -> tuple[int, int]:
    """``(first, last + 1)`` frames inside ``time_range`` seconds (None or (0, 0) = everything)."""
    if not time_range:
        return 0, n_frames
    t0, t1 = float(time_range[0] or 0.0), float(time_range[1] or 0.0)
    lo = int(np.clip(math.floor(max(t0, 0.0) / seconds_per_frame), 0, n_frames - 1))
    hi = n_frames if t1 <= 0 or t1 <= t0 else int(np.clip(math.ceil(t1 / seconds_per_frame) + 1, lo + 1, n_frames))
    return lo, hi


def prepare_cloud(v: np.ndarray, salient: np.ndarray, mag: np.ndarray, *, n_points: int = DEFAULT_POINTS,
                  method: str = "pca", dims: int = 2, seed: int = 0,
                  time_range: tuple[float, float] | None = None, seconds_per_frame: float = 0.008,
                  hz_per_bin: float = 31.25, only_salient: bool = True, row_hz: np.ndarray | None = None) -> Cloud:
    """Subsample bins (salient ones, inside ``time_range``), project their embeddings.

    ``v (T, F, K)``, ``salient (T, F)`` bool, ``mag (T, F)`` magnitudes.  UMAP is capped at
    :data:`UMAP_MAX_POINTS` points.  ``row_hz (F,)``: for a learned front-end's latent, each
    filter's centre frequency (the rows are then labelled as filters, not as STFT bins).
    """
    v = np.asarray(v, dtype=np.float32)
    t, f, k = v.shape
    lo, hi = frame_window(t, seconds_per_frame, time_range)
    in_range = np.zeros((t, f), bool)
    in_range[lo:hi] = True
    cand = in_range & np.asarray(salient, bool) if only_salient else in_range
    if not cand.any():
        cand = in_range
    n = int(np.clip(n_points, 10, MAX_POINTS))
    if method.lower() == "umap":
        n = min(n, UMAP_MAX_POINTS)
    idx = subsample(np.flatnonzero(cand), n, seed)
    pts = v.reshape(-1, k)[idx]
    coords, proj = project(pts, method, dims, seed)
    m = np.asarray(mag, dtype=np.float64).reshape(-1)
    db = 20 * np.log10(m[idx] + 1e-8) - 20 * np.log10(m.max() + 1e-8)
    return Cloud(coords.astype(np.float32), idx, (t, f), np.maximum(db, -120).astype(np.float32), proj,
                 seconds_per_frame, hz_per_bin, int(cand.sum()),
                 None if row_hz is None else np.asarray(row_hz, np.float32).reshape(f))


# ----------------------------------------------------------------------------- ellipse maths
def ellipse_axes(cov2: np.ndarray, n_sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Semi-axis lengths (descending) and their directions (columns) of the n-sigma ellipse."""
    vals, vecs = np.linalg.eigh(np.asarray(cov2, dtype=np.float64))
    order = np.argsort(vals)[::-1]
    return n_sigma * np.sqrt(np.clip(vals[order], 0, None)), vecs[:, order]


def gaussian_ellipse(mean2: np.ndarray, cov2: np.ndarray, n_sigma: float = 1.0, n_points: int = 72
                     ) -> np.ndarray:
    """Points ``(n_points, 2)`` on the n-sigma contour of a 2-D Gaussian (closed curve)."""
    radii, vecs = ellipse_axes(cov2, n_sigma)
    t = np.linspace(0, 2 * np.pi, n_points)
    circle = np.stack([np.cos(t), np.sin(t)])  # (2, n)
    return (np.asarray(mean2, dtype=np.float64)[:, None] + (vecs * radii) @ circle).T


def gaussian_ellipsoid_wireframe(mean3: np.ndarray, cov3: np.ndarray, n_sigma: float = 1.0,
                                 n_lines: int = 5, n_points: int = 36) -> np.ndarray:
    """Latitude and longitude lines of the n-sigma ellipsoid, as one polyline with NaN breaks."""
    radii, vecs = ellipse_axes(cov3, n_sigma)
    a = (vecs * radii)  # maps the unit sphere onto the ellipsoid
    t = np.linspace(0, 2 * np.pi, n_points)
    segs = []
    for lat in np.linspace(-np.pi / 2, np.pi / 2, n_lines + 2)[1:-1]:
        segs.append(np.stack([np.cos(lat) * np.cos(t), np.cos(lat) * np.sin(t), np.full_like(t, np.sin(lat))]))
    for lon in np.linspace(0, np.pi, n_lines, endpoint=False):
        ph = np.linspace(-np.pi / 2, np.pi / 2, n_points // 2 + 1)
        segs.append(np.stack([np.cos(ph) * np.cos(lon), np.cos(ph) * np.sin(lon), np.sin(ph)]))
    out = []
    for s in segs:
        out.append((np.asarray(mean3, dtype=np.float64)[:, None] + a @ s).T)
        out.append(np.full((1, 3), np.nan))
    return np.concatenate(out)


def projected_gaussians(projector: Projector, means: np.ndarray, covariances: np.ndarray
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(projected mean, W Σ Wᵀ)]`` for each component (PCA projector only)."""
    pm = projector.transform(means)
    return [(pm[i].astype(np.float64), projector.project_covariance(covariances[i])) for i in range(len(means))]


# ----------------------------------------------------------------------------- attractor matching
def match_attractors(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Permutation ``p`` minimising ``sum ||reference[i] - estimate[p[i]]||`` and those distances."""
    reference, estimate = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    c = min(len(reference), len(estimate))
    best, best_cost = None, np.inf
    for perm in itertools.permutations(range(len(estimate)), c):
        cost = sum(np.linalg.norm(reference[i] - estimate[perm[i]]) for i in range(c))
        if cost < best_cost:
            best, best_cost = perm, cost
    p = np.asarray(best)
    return p, np.linalg.norm(reference[:c] - estimate[p], axis=1)


# ----------------------------------------------------------------------------- trace builders
def _hover(cloud: Cloud) -> tuple[np.ndarray, str]:
    if cloud.shape[1] == 1:  # not a T-F grid
        return None, "%{x:.2f}, %{y:.2f}<extra></extra>"
    # the flat bin index in column 3: a selection in the browser names its bins by it (exact in
    # float32 up to 2**24 bins, far more than the studio's longest input has)
    if cloud.row_hz is not None:
        # a learned front-end: a row is a filter, so name it and give its centre frequency (a row
        # index times hz_per_bin would be a frequency no filter has).  The filter goes in a fifth
        # column, so the bin index stays in column 3 and column 1 stays Hz
        cd = np.stack([cloud.frame * cloud.seconds_per_frame, cloud.row_hz[cloud.freq_bin], cloud.power_db,
                       cloud.index, cloud.freq_bin], axis=1).astype(np.float32)
        return cd, ("t %{customdata[0]:.2f} s · filter %{customdata[4]:.0f} (≈ %{customdata[1]:.0f} Hz) · "
                    "%{customdata[2]:.0f} dB<extra>%{fullData.name}</extra>")
    cd = np.stack([cloud.frame * cloud.seconds_per_frame, cloud.freq_bin * cloud.hz_per_bin,
                   cloud.power_db, cloud.index], axis=1).astype(np.float32)
    return cd, "t %{customdata[0]:.2f} s · %{customdata[1]:.0f} Hz · %{customdata[2]:.0f} dB<extra>%{fullData.name}</extra>"


def _scatter(dims: int, coords: np.ndarray, **kw):
    if dims == 3:
        marker = kw.pop("marker", {})
        return go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], marker=marker, **kw)
    return go.Scattergl(x=coords[:, 0], y=coords[:, 1], **kw)


def _line(dims: int, pts: np.ndarray, **kw):
    if dims == 3:
        return go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], mode="lines", **kw)
    # WebGL like the markers: plotly draws every WebGL trace above every SVG one whatever the
    # trace order, so SVG lines would hide under the bins
    return go.Scattergl(x=pts[:, 0], y=pts[:, 1], mode="lines", **kw)


def cloud_traces(cloud: Cloud, *, labels: np.ndarray | None = None, label_names: list[str] | None = None,
                 color_by: str = "labels", attractors: np.ndarray | None = None,
                 attractor_names: list[str] | None = None, anchors: np.ndarray | None = None,
                 chosen: np.ndarray | None = None, gmm: dict | None = None, showlegend: bool = True,
                 point_size: float | None = None, legendgroup_prefix: str = "",
                 colorbar: bool = True, tracks: np.ndarray | None = None) -> tuple[list, list[str]]:
    """Traces for one embedding cloud (+ attractors, anchors, GMM ellipses, the paths of tracked
    attractors ``tracks (C, T, K)``) and any notes."""
    dims = cloud.coords.shape[1]
    n = len(cloud.coords)
    size = point_size or (3 if dims == 2 and n > 5000 else 4 if dims == 2 else 2)
    cd, ht = _hover(cloud)
    traces, notes = [], []
    if color_by == "power" or labels is None:
        traces.append(_scatter(dims, cloud.coords, mode="markers", name="T-F bins", customdata=cd, hovertemplate=ht,
                               showlegend=False,
                               marker=dict(size=size, color=cloud.power_db, colorscale="Viridis",
                                           cmin=float(np.percentile(cloud.power_db, 1)) if n else -60, cmax=0,
                                           opacity=0.75, showscale=colorbar,
                                           colorbar=dict(title=dict(text="dB"), thickness=12, len=0.45, x=1.02,
                                                         xanchor="left", y=0, yanchor="bottom"))))
    else:
        labels = np.asarray(labels)
        for c in np.unique(labels):
            sel = labels == c
            name = label_names[c] if label_names and c < len(label_names) else f"voice {c + 1}"
            traces.append(_scatter(dims, cloud.coords[sel], mode="markers", name=name,
                                   legendgroup=f"{legendgroup_prefix}{name}", showlegend=showlegend,
                                   customdata=None if cd is None else cd[sel], hovertemplate=ht,
                                   marker=dict(size=size, color=voice_color(int(c)), opacity=0.55)))
    proj = cloud.projector
    if gmm is not None and gmm.get("means") is not None:
        if proj.linear:
            for i, (m, cov) in enumerate(projected_gaussians(proj, gmm["means"], gmm["covariances"])):
                for s, dash, w in ((1.0, "solid", 2.2), (2.0, "dash", 1.4)):
                    if dims == 2:
                        pts = gaussian_ellipse(m, cov, s)
                        kw = dict(line=dict(color=voice_color(i), width=w, dash=dash))
                    else:
                        pts = gaussian_ellipsoid_wireframe(m, cov, s, n_lines=4 if s == 1 else 3)
                        kw = dict(line=dict(color=voice_color(i), width=3 if s == 1 else 1.5),
                                  opacity=0.9 if s == 1 else 0.45)
                    traces.append(_line(dims, pts.astype(np.float32), name=f"GMM {s:.0f}σ",
                                        legendgroup=f"{legendgroup_prefix}gmm", showlegend=showlegend and i == 0,
                                        hoverinfo="skip", **kw))
        else:
            notes.append("GMM ellipses are not drawn for UMAP: a non-linear map does not carry covariances.")
    if anchors is not None and len(anchors):
        pa = proj.transform(anchors)
        chosen_set = set(np.asarray(chosen).tolist()) if chosen is not None else set()
        others = [i for i in range(len(pa)) if i not in chosen_set]
        if others:
            traces.append(_scatter(dims, pa[others], mode="markers+text", name="anchors (not chosen)",
                                   text=[f"a{i}" for i in others], textposition="top center",
                                   legendgroup=f"{legendgroup_prefix}anchors", showlegend=showlegend,
                                   hovertemplate="anchor %{text}<extra></extra>",
                                   marker=dict(size=11 if dims == 2 else 6, color="#555",  # open symbols stroke in marker.color
                                               symbol="star-open" if dims == 2 else "circle-open",
                                               line=dict(color="#555", width=1.5))))
        if chosen_set:
            ch = sorted(chosen_set)
            traces.append(_scatter(dims, pa[ch], mode="markers+text", name="anchors (chosen)",
                                   text=[f"a{i}" for i in ch], textposition="top center",
                                   legendgroup=f"{legendgroup_prefix}anchors", showlegend=showlegend,
                                   hovertemplate="chosen anchor %{text}<extra></extra>",
                                   marker=dict(size=15 if dims == 2 else 7, color="#facc15",
                                               symbol="star" if dims == 2 else "diamond",
                                               line=dict(color="#111", width=1.5))))
        if not proj.linear:
            notes.append("UMAP places anchors and attractors with umap.transform (near their nearest bins).")
    if tracks is not None and len(tracks):  # after the bins, under the attractors
        traces += _track_traces(cloud, np.asarray(tracks), dims, legendgroup_prefix, showlegend)
    if attractors is not None and len(attractors):
        pa = proj.transform(attractors)
        names = attractor_names or [f"attractor {i + 1}" for i in range(len(pa))]
        traces.append(_scatter(dims, pa, mode="markers", name="attractors", text=names,
                               legendgroup=f"{legendgroup_prefix}attractors", showlegend=showlegend,
                               hovertemplate="%{text}<extra></extra>",
                               marker=dict(size=20 if dims == 2 else 9, symbol="diamond",
                                           color=[voice_color(i) for i in range(len(pa))],
                                           line=dict(color="#111", width=2))))
    return traces, notes


def _apply_axes(fig: go.Figure, projector: Projector, dims: int, row=None, col=None, scene: str = "scene"):
    titles = projector.axis_titles()
    if dims == 2:
        fig.update_xaxes(title_text=titles[0], zeroline=False, row=row, col=col)
        fig.update_yaxes(title_text=titles[1], zeroline=False, row=row, col=col)
    else:
        fig.layout[scene].update(xaxis_title=titles[0], yaxis_title=titles[1], zaxis_title=titles[2],
                                 aspectmode="cube")


def _layout(fig: go.Figure, title: str, height: int, notes: list[str] | None = None, legend: bool = True):
    fig.update_layout(template=TEMPLATE, font=FONT, height=height,
                      title=dict(text=title, x=0.01, xanchor="left", font=dict(size=15)),
                      margin=dict(l=60, r=20, t=60 if title else 30, b=45),
                      legend=dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.02,
                                  font=dict(size=11), itemsizing="constant") if legend else None,
                      uirevision="keep")
    for i, note in enumerate(notes or []):  # below the x-axis title
        fig.add_annotation(text=note, xref="paper", yref="paper", x=0.0, y=0.0, yshift=-48 - 18 * i,
                           showarrow=False, xanchor="left", yanchor="top", font=dict(size=11, color="#666"))
    if notes:
        fig.update_layout(margin=dict(b=55 + 18 * len(notes)))
    return fig


PATH_COLOR = "#111827"  # the paths' legend entry: neither a voice's colour nor the attractors'


def _track_traces(cloud: Cloud, tracks: np.ndarray, dims: int, prefix: str, showlegend: bool,
                  max_points: int = 40) -> list:
    """One thin, translucent line per talker: its tracked attractor over the cloud's frames,
    averaged over ``max_points`` equal windows (a simplified path: raw frame-by-frame jitter
    scribbles over the clusters, in UMAP most) and projected like the bins.  The legend entry is
    a separate dark line (one per figure) so paths and attractors read apart."""
    frames = cloud.frame
    lo, hi = (int(frames.min()), int(frames.max()) + 1) if len(frames) else (0, tracks.shape[1])
    hi = max(lo + 1, min(hi, tracks.shape[1]))
    edges = np.unique(np.linspace(lo, hi, max_points + 1).round().astype(int))
    out = []
    for i, track in enumerate(tracks):
        pts = np.stack([track[a:b].mean(0) for a, b in zip(edges[:-1], edges[1:]) if b > a])
        out.append(_line(dims, cloud.projector.transform(pts).astype(np.float32),
                         name=f"path of attractor {i + 1}", legendgroup=f"{prefix}tracks", showlegend=False,
                         hoverinfo="skip", line=dict(color=voice_color(i), width=1.5), opacity=0.55))
    if showlegend and out:
        # one point of a line draws nothing: only the legend entry shows
        first = np.array([[out[0].x[0], out[0].y[0]] + ([out[0].z[0]] if dims == 3 else [])], np.float32)
        out.append(_line(dims, first, name="attractor paths",
                         legendgroup=f"{prefix}tracks", hoverinfo="skip", line=dict(color=PATH_COLOR, width=2)))
    return out


def embedding_figure(cloud: Cloud, *, labels: np.ndarray | None = None, label_names: list[str] | None = None,
                     color_by: str = "labels", attractors: np.ndarray | None = None,
                     attractor_names: list[str] | None = None, anchors: np.ndarray | None = None,
                     chosen: np.ndarray | None = None, gmm: dict | None = None, title: str = "Embedding cloud",
                     height: int = 560, notes: list[str] | None = None, tracks: np.ndarray | None = None,
                     highlight: np.ndarray | None = None) -> go.Figure:
    """The T-F bins' embeddings (projected) coloured by ``labels`` (or power), with attractors,
    ADANet anchors (chosen subset highlighted), GMM 1/2-sigma ellipses (PCA only), the paths of
    tracked attractors, and the bins ``highlight`` (bool over the cloud's points) ringed."""
    traces, extra = cloud_traces(cloud, labels=labels, label_names=label_names, color_by=color_by,
                                 attractors=attractors, attractor_names=attractor_names, anchors=anchors,
                                 chosen=chosen, gmm=gmm, tracks=tracks)
    dims = cloud.coords.shape[1]
    if highlight is not None and np.any(highlight):
        sel = np.asarray(highlight, bool)
        cd, ht = _hover(cloud)
        # before the attractors, so the diamonds stay on top
        at = next((i for i, tr in enumerate(traces) if tr.name == "attractors"), len(traces))
        traces.insert(at, _scatter(dims, cloud.coords[sel], mode="markers", name="selected bins",
                                   customdata=None if cd is None else cd[sel], hovertemplate=ht,
                                   marker=dict(size=8 if dims == 2 else 4, color="rgba(0,0,0,0)",
                                               line=dict(color="#111", width=1.5))))
    fig = go.Figure(traces)
    _apply_axes(fig, cloud.projector, dims)
    if dims == 3:
        fig.update_layout(scene=dict(camera=dict(eye=dict(x=1.5, y=1.5, z=1.0))))
    return _layout(fig, title, height, (notes or []) + extra)


# ----------------------------------------------------------------------------- spectrograms & masks
def pool_time(x: np.ndarray, max_cols: int = MAX_COLUMNS, how: str = "max") -> tuple[np.ndarray, int]:
    """Pool ``(T, F)`` along time into at most ``max_cols`` columns; returns (pooled, step)."""
    t = x.shape[0]
    step = max(1, math.ceil(t / max_cols))
    if step == 1:
        return x, 1
    n = math.ceil(t / step)
    pad = n * step - t
    xp = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)]) if pad else x
    xp = xp.reshape(n, step, *x.shape[1:])
    return (xp.max(axis=1) if how == "max" else xp.mean(axis=1)), step


def _db(mag: np.ndarray, ref: float, floor: float) -> np.ndarray:
    db = 20 * np.log10(np.asarray(mag, np.float64) + 1e-10) - 20 * np.log10(ref + 1e-10)
    return np.clip(np.round(db), -floor, 0).astype(np.int8)


def _hz_ticks(fig: go.Figure, rows: int, y_max: float) -> None:
    """Frequency ticks of stacked panels without the top one: a panel's top label ("4000") would
    sit on the bottom label ("0") of the panel above."""
    if y_max <= 0:
        return
    raw = y_max / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    vals = [float(v) for v in np.arange(0, y_max - 0.3 * step, step)]
    for r in range(1, rows + 1):
        fig.update_yaxes(tickvals=vals, ticktext=[f"{v:g}" for v in vals], row=r, col=1)


def latent_rows(by_centre: bool) -> tuple[str, str]:
    """How a learned front-end latent's rows are named: ``(y-axis title, hover text of row %{y})``.

    One spelling for every latent panel (the Separation tab's latents and masks, the Compare tab's
    masks, the Teaching tab's filters).  Drawn ``by_centre`` frequency (in ``frontend.sort_order()``,
    as the thesis's figures) row y is the y-th filter from the lowest centre frequency, not the
    filter stored as y; otherwise the rows are the filters as stored."""
    if not by_centre:
        return "learned filter", "filter %{y}"
    return "learned filter (sorted by centre frequency)", "row %{y} by centre frequency"


def _panel_label(fig: go.Figure, text: str, row: int) -> None:
    """A label inside the top-left corner of a stacked panel (subplot titles would overlap)."""
    suffix = "" if row == 1 else str(row)
    fig.add_annotation(text=f"<b>{text}</b>", xref=f"x{suffix} domain", yref=f"y{suffix} domain", x=0.005, y=0.97,
                       xanchor="left", yanchor="top", showarrow=False, font=dict(size=11, color="#111"),
                       bgcolor="rgba(255,255,255,0.75)", borderpad=2)


def _selection_layers(fig: go.Figure, x: np.ndarray, y: np.ndarray, lit: np.ndarray | None, selectable: bool,
                      max_cols: int) -> None:
    """On the first panel: the ``lit (frames shown, rows)`` bins in cyan, and with ``selectable``
    an invisible grid of points that takes box selections (heatmaps do not)."""
    if lit is not None and np.any(lit):
        on, _ = pool_time(lit.astype(np.uint8), max_cols, "max")
        glow = np.where(on.T > 0, 1.0, np.nan).astype(np.float32)
        fig.add_trace(go.Heatmap(z=glow, x=x, y=y, name="selected bins", showscale=False, zmin=0, zmax=1,
                                 colorscale=[[0, "rgba(34,211,238,0.75)"], [1, "rgba(34,211,238,0.75)"]],
                                 hoverinfo="skip"), row=1, col=1)
    if selectable:
        gx, gy = np.meshgrid(np.linspace(x[0], x[-1], 60), np.linspace(y[0], y[-1], 24))
        fig.add_trace(go.Scatter(x=gx.ravel().astype(np.float32), y=gy.ravel().astype(np.float32), mode="markers",
                                 name="select", marker=dict(size=4, opacity=0), hoverinfo="skip",
                                 showlegend=False), row=1, col=1)


def spectrogram_figure(spectrograms: list[tuple[str, np.ndarray]], *, seconds_per_frame: float = 0.008,
                       hz_per_bin: float = 31.25, time_range: tuple[float, float] | None = None,
                       db_range: float = 80.0, max_cols: int = MAX_COLUMNS, title: str = "Spectrograms",
                       row_height: int = 170, lit: np.ndarray | None = None, selectable: bool = False) -> go.Figure:
    """Stacked dB spectrograms ``[(name, magnitude (T, F))]``, all relative to the first one's peak.

    ``lit (T, F)`` bool: bins lit in the first panel.  ``selectable``: the first panel takes
    box selections (heatmaps do not: an invisible grid of points does, and plotly then reports
    the box's time and frequency range)."""
    names = [n for n, _ in spectrograms]
    mags = [np.abs(np.asarray(m)) for _, m in spectrograms]
    ref = float(mags[0].max()) if mags else 1.0
    fig = make_subplots(rows=len(mags), cols=1, shared_xaxes=True, vertical_spacing=0.03 if len(mags) > 1 else 0)
    for r, mag in enumerate(mags, 1):
        lo, hi = frame_window(mag.shape[0], seconds_per_frame, time_range)
        pooled, step = pool_time(mag[lo:hi], max_cols, "max")
        x = ((lo + np.arange(pooled.shape[0]) * step + (step - 1) / 2) * seconds_per_frame).astype(np.float32)
        y = (np.arange(mag.shape[1]) * hz_per_bin).astype(np.float32)
        fig.add_trace(go.Heatmap(z=_db(pooled, ref, db_range).T, x=x, y=y, coloraxis="coloraxis", name=names[r - 1],
                                 hovertemplate="%{x:.2f} s · %{y:.0f} Hz · %{z} dB<extra>%{fullData.name}</extra>"),
                      row=r, col=1)
        fig.update_yaxes(title_text="Hz", row=r, col=1)
        _panel_label(fig, names[r - 1], r)
        if r == 1:
            _selection_layers(fig, x, y, lit if lit is None else np.asarray(lit, bool)[lo:hi], selectable, max_cols)
    if selectable:
        fig.update_layout(dragmode="select", selectdirection="any")
    fig.update_xaxes(title_text="time (s)", row=len(mags), col=1)
    if mags:
        _hz_ticks(fig, len(mags), (mags[0].shape[1] - 1) * hz_per_bin)
    fig.update_layout(coloraxis=dict(colorscale="Magma", cmin=-db_range, cmax=0,
                                     colorbar=dict(title=dict(text="dB"), thickness=12, len=0.8)))
    return _layout(fig, title, 60 + row_height * len(mags), legend=False)


def masks_figure(masks: np.ndarray, *, names: list[str] | None = None, seconds_per_frame: float = 0.008,
                 hz_per_bin: float = 31.25, time_range: tuple[float, float] | None = None,
                 max_cols: int = MAX_COLUMNS, title: str = "Masks", row_height: int = 150,
                 mag: np.ndarray | None = None) -> go.Figure:
    """One heatmap per voice of its mask (0-100 %), in the voice's colour; with ``mag``, a first
    row shows all masks in one picture (dominant voice's colour, faded by dominance and level)."""
    masks = np.asarray(masks)
    c = masks.shape[0]
    names = names or [f"mask {i + 1}" for i in range(c)]
    top = 1 if mag is not None else 0
    rows = c + top
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03 if rows > 1 else 0)
    if top:
        fig.add_trace(composite_heatmap(masks, mag, seconds_per_frame=seconds_per_frame, hz_per_bin=hz_per_bin,
                                        time_range=time_range, max_cols=max_cols), row=1, col=1)
        fig.update_yaxes(title_text="Hz", row=1, col=1)
        _panel_label(fig, "all voices (colour = dominant voice)", 1)
    for i in range(c):
        lo, hi = frame_window(masks.shape[1], seconds_per_frame, time_range)
        pooled, step = pool_time(masks[i, lo:hi], max_cols, "mean")
        x = ((lo + np.arange(pooled.shape[0]) * step + (step - 1) / 2) * seconds_per_frame).astype(np.float32)
        y = (np.arange(masks.shape[2]) * hz_per_bin).astype(np.float32)
        z = np.round(np.clip(pooled, 0, 1) * 100).astype(np.uint8).T
        # one colour bar per voice, beside its own panel, in the right margin
        d0, d1 = fig.layout["yaxis" if i + 1 + top == 1 else f"yaxis{i + 1 + top}"].domain
        fig.add_trace(go.Heatmap(z=z, x=x, y=y, zmin=0, zmax=100, name=names[i],
                                 colorscale=[[0, "#ffffff"], [1, voice_color(i)]], showscale=True,
                                 colorbar=dict(title=dict(text="%", side="right"), thickness=10,
                                               len=(d1 - d0) * 0.95, lenmode="fraction", y=(d0 + d1) / 2,
                                               yanchor="middle", x=1.01, xanchor="left", xpad=4, nticks=3,
                                               tickfont=dict(size=10)),
                                 hovertemplate="%{x:.2f} s · %{y:.0f} Hz · %{z} %<extra>%{fullData.name}</extra>"),
                      row=i + 1 + top, col=1)
        fig.update_yaxes(title_text="Hz", row=i + 1 + top, col=1)
        _panel_label(fig, names[i], i + 1 + top)
    fig.update_xaxes(title_text="time (s)", row=rows, col=1)
    _hz_ticks(fig, rows, (masks.shape[2] - 1) * hz_per_bin)
    fig = _layout(fig, title, 60 + row_height * rows, legend=False)
    return fig.update_layout(margin=dict(r=70))


COMPOSITE_LEVELS = 8


def _mix(hex_color: str, a: float) -> str:
    """``hex_color`` faded toward white (a=0 white, a=1 full colour)."""
    h = hex_color.lstrip("#")
    rgb = [int(h[i: i + 2], 16) for i in (0, 2, 4)]
    return "rgb({},{},{})".format(*(round(255 + (c - 255) * a) for c in rgb))


def mask_composite(masks: np.ndarray, mag: np.ndarray, *, db_range: float = 60.0, max_cols: int = MAX_COLUMNS,
                   levels: int = COMPOSITE_LEVELS) -> tuple[np.ndarray, list, int]:
    """All masks in one picture: each bin gets its dominant voice's colour, faded by how dominant
    (mask value) and how loud the bin is.  Returns ``(z (F, cols) uint8 codes, colorscale, n_codes)``
    for a heatmap: code = voice * levels + shade."""
    masks = np.asarray(masks, np.float32)
    c = masks.shape[0]
    pm, _ = pool_time(masks.transpose(1, 2, 0), max_cols, "mean")        # (cols, F, C)
    pmag, _ = pool_time(np.asarray(mag, np.float64), max_cols, "max")     # (cols, F)
    dom = pm.argmax(-1)
    strength = np.clip((pm.max(-1) - 1.0 / c) / (1 - 1.0 / c), 0, 1) if c > 1 else np.ones(dom.shape)
    level = 20 * np.log10(pmag + 1e-10)
    alpha = np.clip((level - level.max() + db_range) / db_range, 0, 1)
    shade = np.round(alpha * (0.35 + 0.65 * strength) * (levels - 1)).astype(np.int64)
    z = (dom * levels + shade).astype(np.uint8).T
    n = c * levels
    scale = []
    for v in range(c):
        for q in range(levels):
            col = _mix(voice_color(v), q / (levels - 1))
            i = v * levels + q
            scale += [[i / n, col], [(i + 1) / n, col]]
    return z, scale, n


def composite_heatmap(masks: np.ndarray, mag: np.ndarray, *, seconds_per_frame: float = 0.008,
                      hz_per_bin: float = 31.25, time_range: tuple[float, float] | None = None,
                      max_cols: int = MAX_COLUMNS, name: str = "all voices",
                      order: np.ndarray | None = None) -> go.Heatmap:
    """:func:`mask_composite` as a heatmap, rows in Hz (``hz_per_bin``); with ``order`` (a learned
    front-end's ``sort_order()``) the rows are the latent's filters drawn in that order, y = row."""
    masks, mag = np.asarray(masks), np.asarray(mag)
    if order is not None:  # as the Separation tab's latent panels: the filters by centre frequency
        masks, mag = masks[:, :, np.asarray(order)], mag[:, np.asarray(order)]
    lo, hi = frame_window(masks.shape[1], seconds_per_frame, time_range)
    z, scale, n = mask_composite(masks[:, lo:hi], mag[lo:hi], max_cols=max_cols)
    step = math.ceil((hi - lo) / max_cols) if hi - lo > max_cols else 1
    x = ((lo + np.arange(z.shape[1]) * step + (step - 1) / 2) * seconds_per_frame).astype(np.float32)
    if order is not None:
        y = np.arange(z.shape[0], dtype=np.float32)
        hover = f"%{{x:.2f}} s · {latent_rows(True)[1]}<extra></extra>"
    else:
        y = (np.arange(z.shape[0]) * hz_per_bin).astype(np.float32)
        hover = "%{x:.2f} s · %{y:.0f} Hz<extra></extra>"
    return go.Heatmap(z=z, x=x, y=y, zmin=-0.5, zmax=n - 0.5, colorscale=scale, showscale=False, name=name,
                      hovertemplate=hover)


# ----------------------------------------------------------------------------- compare & atlas
@dataclass
class CompareItem:
    name: str
    labels: np.ndarray                 # (n,) assignment of the plotted bins
    attractors: np.ndarray             # (C, K)
    masks: np.ndarray                  # (C, T, F)
    score: float | None = None         # e.g. SI-SNRi in dB
    anchors: np.ndarray | None = None
    chosen: np.ndarray | None = None
    gmm: dict | None = None
    note: str = ""


def compare_figure(cloud: Cloud, items: list[CompareItem], mag: np.ndarray, *,
                   time_range: tuple[float, float] | None = None, title: str = "Clusterers side by side",
                   score_name: str = "SI-SNRi", order: np.ndarray | None = None) -> go.Figure:
    """One column per clusterer: its cloud + attractors (shared projection) over its mask picture.

    ``order``: for a model with a learned front-end, its filters' order (``frontend.sort_order()``,
    as the Separation tab draws the latent): the mask pictures' rows are then those filters, not Hz."""
    n = max(1, len(items))
    dims = cloud.coords.shape[1]
    subtitles = []
    for it in items:
        s = f"<b>{it.name}</b>" + (f"<br>{score_name} {it.score:.1f} dB" if it.score is not None else "")
        subtitles.append(s)
    subtitles += ["" for _ in items]
    top = {"type": "scene"} if dims == 3 else {"type": "xy"}
    fig = make_subplots(rows=2, cols=n, specs=[[top] * n, [{"type": "xy"}] * n], subplot_titles=subtitles,
                        row_heights=[0.64, 0.36], vertical_spacing=0.12, horizontal_spacing=0.045)
    fig.update_annotations(font_size=12)
    notes: list[str] = []
    for j, it in enumerate(items, 1):
        traces, extra = cloud_traces(cloud, labels=it.labels, attractors=it.attractors, anchors=it.anchors,
                                     chosen=it.chosen, gmm=it.gmm, showlegend=j == 1,
                                     point_size=3 if dims == 2 else 1.5, legendgroup_prefix="")
        for tr in traces:
            fig.add_trace(tr, row=1, col=j)
        notes += [x for x in extra if x not in notes]
        if dims == 2:
            _apply_axes(fig, cloud.projector, 2, row=1, col=j)
        else:
            _apply_axes(fig, cloud.projector, 3, scene="scene" if j == 1 else f"scene{j}")
        fig.add_trace(composite_heatmap(it.masks, mag, seconds_per_frame=cloud.seconds_per_frame,
                                        hz_per_bin=cloud.hz_per_bin, time_range=time_range,
                                        max_cols=max(100, MAX_COLUMNS // n), name=it.name, order=order),
                      row=2, col=j)
        y_title = "Hz" if order is None else latent_rows(True)[0]
        fig.update_yaxes(title_text=y_title if j == 1 else None, row=2, col=j)
        fig.update_xaxes(title_text="time (s)", row=2, col=j)
    fig.add_annotation(text="masks: colour = dominant voice, faded by dominance and level", xref="paper",
                       yref="paper", x=0, y=0.345, showarrow=False, xanchor="left", yanchor="bottom",
                       font=dict(size=11, color="#666"))
    return _layout(fig, title, 800, notes)


def _present(est) -> bool:
    """An estimate worth drawing: some centres, all finite, not all zero (a clusterer that found none)."""
    if est is None:
        return False
    e = np.asarray(est, np.float64)
    return e.ndim == 2 and len(e) > 0 and bool(np.isfinite(e).all()) and bool(np.abs(e).max() > 0)


def center_mismatch_figure(cloud: Cloud, ideal: np.ndarray, estimates: dict[str, np.ndarray], *,
                           true_labels: np.ndarray | None = None, points: np.ndarray | None = None,
                           title: str = "Center mismatch: ideal vs estimated attractors"
                           ) -> tuple[go.Figure, dict[str, float]]:
    """The DANet 'center mismatch' view: oracle (ideal) attractors against each clusterer's.

    Estimates are matched to the ideal attractors (best permutation); dotted segments join each
    pair and the legend gives the mean distance in the full K-dimensional embedding space.
    Absent estimates (none, empty, non-finite or all zero) are left out.

    With ``points`` (the plotted bins' embeddings, ``(n, K)``) the view is a PCA fitted on the
    centres themselves (ideal and estimated) and the bins go through that map: the bins' own
    principal axes are the directions the *bins* vary most in, and centres, being means of
    overlapping unit-norm clusters, all land near the middle of those (one pile); the centres'
    axes show how far apart they really are.  Without ``points``, the cloud's projection.
    """
    dims = cloud.coords.shape[1]
    ideal = np.asarray(ideal, np.float64)
    estimates = {k: np.asarray(v, np.float64) for k, v in estimates.items() if _present(v)}
    matched = {}
    for name, est in estimates.items():
        perm, d = match_attractors(ideal, est)
        matched[name] = (est[perm], d)
    proj, coords, own_axes = cloud.projector, cloud.coords, False
    centres = np.concatenate([ideal] + [m for m, _ in matched.values()])
    if points is not None and len(centres) > dims:
        proj = fit_pca(centres, dims)
        coords = proj.transform(points)
        own_axes = True
    traces = []
    if true_labels is not None:
        for c in np.unique(true_labels):
            sel = true_labels == c
            traces.append(_scatter(dims, coords[sel], mode="markers", name=f"bins of speaker {c + 1}",
                                   hoverinfo="skip", marker=dict(size=3 if dims == 2 else 1.5,
                                                                 color=_rgba(voice_color(int(c)), 0.18))))
    else:
        traces.append(_scatter(dims, coords, mode="markers", name="T-F bins", hoverinfo="skip",
                               marker=dict(size=3 if dims == 2 else 1.5, color="rgba(120,120,120,0.2)")))
    pi = proj.transform(ideal)
    symbols = ["circle", "square", "triangle-up", "x", "cross", "pentagon", "hexagon"]
    dist, marks = {}, []
    for k, (name, (est, d)) in enumerate(matched.items()):
        dist[name] = float(d.mean())
        pe = proj.transform(est)
        sym = symbols[k % len(symbols)]
        marks.append(_scatter(dims, pe, mode="markers", name=f"{name} (mean dist {dist[name]:.2f})",
                              legendgroup=name, text=[f"{name} → ideal {i + 1}: {d[i]:.2f}" for i in range(len(pe))],
                              hovertemplate="%{text}<extra></extra>",
                              marker=dict(size=13 if dims == 2 else 6,
                                          symbol=sym if dims == 2 else ("circle" if k % 2 == 0 else "square"),
                                          color=[voice_color(i) for i in range(len(pe))],
                                          line=dict(color="#111", width=1.5))))
        seg = np.concatenate([np.concatenate([pi[i:i + 1], pe[i:i + 1], np.full((1, dims), np.nan)])
                              for i in range(len(pe))]).astype(np.float32)
        traces.append(_line(dims, seg, name=f"{name} offset", legendgroup=name, showlegend=False, hoverinfo="skip",
                            line=dict(color="#444", width=1.2, dash="dot") if dims == 2 else dict(color="#444", width=2)))
    # the ideal stars under the estimates (a perfect estimate hides its star, not the reverse)
    traces.append(_scatter(dims, pi, mode="markers", name="ideal (oracle)", text=[f"ideal {i + 1}" for i in range(len(pi))],
                           hovertemplate="%{text}<extra></extra>",
                           marker=dict(size=22 if dims == 2 else 10, symbol="star" if dims == 2 else "diamond",
                                       color=[voice_color(i) for i in range(len(pi))], line=dict(color="#111", width=2))))
    traces += marks
    fig = go.Figure(traces)
    _apply_axes(fig, proj, dims)
    notes = []
    if own_axes:
        t = [f"centres' PC{i + 1}" for i in range(dims)]
        if dims == 2:  # zoomed on the centres (the bins spread far wider); the home button shows all
            pc = proj.transform(centres)
            lo, hi = pc.min(0), pc.max(0)
            pad = 0.35 * max(float((hi - lo).max()), 1e-6)
            fig.update_xaxes(title_text=t[0], range=[float(lo[0] - pad), float(hi[0] + pad)])
            fig.update_yaxes(title_text=t[1], range=[float(lo[1] - pad), float(hi[1] + pad)])
        else:
            fig.update_layout(scene=dict(xaxis_title=t[0], yaxis_title=t[1], zaxis_title=t[2]))
        notes.append("axes: the principal axes of the centres (ideal and estimated), so their offsets show; "
                     "the bins go through the same map.")
    return _layout(fig, title, 560, notes), dist


@dataclass
class AtlasItem:
    name: str                 # the mixture
    attractors: np.ndarray    # (C, K)
    labels: list[str]         # one label per attractor (gender or speaker)


def attractor_atlas_figure(items: list[AtlasItem], *, dims: int = 2,
                           title: str = "Attractors of many mixtures (one PCA)") -> tuple[go.Figure, Projector]:
    """DANet Fig. 5: every mixture's attractors in one PCA; segments join a mixture's attractors."""
    pts = np.concatenate([np.asarray(it.attractors, np.float64) for it in items])
    proj = fit_pca(pts, dims)
    label_order = list(dict.fromkeys(lab for it in items for lab in it.labels))
    traces = []
    seg = []
    for it in items:
        p = proj.transform(it.attractors)
        for a, b in itertools.combinations(range(len(p)), 2):
            seg += [p[a], p[b], np.full(dims, np.nan)]
    if seg:
        traces.append(_line(dims, np.asarray(seg, np.float32), name="same mixture", hoverinfo="skip",
                            line=dict(color="rgba(120,120,120,0.45)", width=1)))
    for li, lab in enumerate(label_order):
        xs, text = [], []
        for it in items:
            p = proj.transform(it.attractors)
            for i, l2 in enumerate(it.labels):
                if l2 == lab:
                    xs.append(p[i])
                    text.append(f"{it.name} · source {i + 1}")
        traces.append(_scatter(dims, np.asarray(xs, np.float32), mode="markers", name=lab, text=text,
                               hovertemplate="%{text}<extra>%{fullData.name}</extra>",
                               marker=dict(size=12 if dims == 2 else 6, color=label_color(lab, li),
                                           line=dict(color="#111", width=1), opacity=0.9)))
    fig = go.Figure(traces)
    _apply_axes(fig, proj, dims)
    fig = _layout(fig, title, 520)
    # the atlas sits in a narrow column: the title goes below the plotly toolbar, not under it
    fig.update_layout(margin=dict(t=100), title=dict(y=1, yref="container", yanchor="top", pad=dict(t=44)))
    return fig, proj


# ----------------------------------------------------------------------------- teaching toys
def toy_mixture_cloud(seed: int = 0, n: int = 600, k: int = 6) -> tuple[Cloud, np.ndarray, dict, np.ndarray]:
    """Two synthetic 'speakers' in a K-dim embedding space: (cloud, labels, gmm dict, anchors)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(2, k)) * 1.6
    covs = []
    pts, labels = [], []
    for c in range(2):
        a = rng.normal(size=(k, k)) * 0.35
        cov = a @ a.T + 0.05 * np.eye(k)
        covs.append(cov)
        pts.append(rng.multivariate_normal(centers[c], cov, size=n // 2))
        labels.append(np.full(n // 2, c))
    x = np.concatenate(pts)
    lab = np.concatenate(labels)
    power = -np.abs(rng.normal(scale=15, size=len(x))).astype(np.float32)
    cloud = Cloud.from_points(x, power_db=power)
    gmm = {"means": np.asarray([x[lab == c].mean(0) for c in range(2)]),
           "covariances": np.asarray([np.cov(x[lab == c].T) for c in range(2)])}
    anchors = np.concatenate([centers * 1.15, rng.normal(size=(2, k)) * 1.2])
    return cloud, lab, gmm, anchors


def toy_figures(seed: int = 0) -> dict[str, go.Figure]:
    """Small illustrative figures for the teaching panels (no model needed)."""
    cloud, lab, gmm, anchors = toy_mixture_cloud(seed)
    att = gmm["means"]
    figs = {
        "embedding": embedding_figure(cloud, labels=lab, label_names=["speaker A", "speaker B"],
                                      title="Embeddings: one point per T-F bin", height=380),
        "attractor": embedding_figure(cloud, labels=lab, label_names=["speaker A", "speaker B"], attractors=att,
                                      title="Attractors: the centre of each speaker's bins", height=380),
        "anchors": embedding_figure(cloud, labels=lab, label_names=["speaker A", "speaker B"], attractors=att,
                                    anchors=anchors, chosen=np.array([0, 1]),
                                    title="ADANet anchors: pick the most distinct pair", height=380),
        "gmm": embedding_figure(cloud, labels=lab, label_names=["speaker A", "speaker B"], attractors=att, gmm=gmm,
                                title="GMM: means and 1σ / 2σ ellipses", height=380),
    }
    # a toy mask: two 'voices' with different harmonics
    t = np.arange(250)
    f = np.arange(129)
    a = np.exp(-((f[None, :] % 18) - 2) ** 2 / 4.0) * (1 + np.sin(t[:, None] / 15)) / 2
    b = np.exp(-((f[None, :] % 26) - 3) ** 2 / 5.0) * (1 + np.cos(t[:, None] / 11)) / 2
    m = np.stack([a, b]) + 1e-3
    figs["mask"] = masks_figure(m / m.sum(0, keepdims=True), names=["mask of voice 1", "mask of voice 2"],
                                title="Masks: each bin's share per voice", row_height=140)
    return figs


# ----------------------------------------------------------------------------- adaptive front-end
def _frontend_arrays(model_or_frontend, n_fft: int = 1024):
    """The learned filters ``(F, N)``, sorted by centre frequency, their magnitude responses in dB
    ``(F, n_fft/2 + 1)``, the centre frequencies (Hz, sorted), each row's stored filter number
    ``(F,)`` (the latent channel it drives) and the front-end's config."""
    import torch

    fe = getattr(model_or_frontend, "frontend", None)
    fe = model_or_frontend if fe is None else fe
    if not hasattr(fe, "filters"):
        raise ValueError("no adaptive front-end here (this model reads the STFT)")
    with torch.no_grad():
        order = fe.sort_order()
        w = fe.filters().float()[order]
        centres = fe.centre_frequencies()[order].numpy()
    return w.numpy(), _response_db(w.numpy(), n_fft), centres, order.numpy(), fe.config


def _response_db(filters: np.ndarray, n_fft: int) -> np.ndarray:
    resp = np.abs(np.fft.rfft(filters, n=max(n_fft, filters.shape[-1]), axis=-1))
    return np.clip(20 * np.log10(resp / (resp.max() + 1e-12) + 1e-10), -60, 0).astype(np.float32)


def stft_bases(n_fft: int = 256) -> np.ndarray:
    """The STFT's analysis bases as filters: sqrt-Hann times the cosine of each of the
    ``n_fft/2 + 1`` bins, ``(n_fft/2 + 1, n_fft)`` (the real parts; the sines are shifted copies)."""
    n = np.arange(n_fft)
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft))
    k = np.arange(n_fft // 2 + 1)[:, None]
    return (window * np.cos(2 * np.pi * k * (n - n_fft / 2) / n_fft)).astype(np.float32)


def frontend_bases_figure(model_or_frontend, *, stft_n_fft: int = 256, n_fft: int = 1024,
                          title: str = "Learned filters next to the STFT's", sample_rate: int = 8000) -> go.Figure:
    """The adaptive front-end's filters (``|window| x bases``) and their frequency responses, sorted
    by centre frequency (as the thesis's fig. 6.2), above the STFT's sqrt-Hann bases and theirs.

    ``model_or_frontend``: a DANet with a front-end, a pretraining model or the front-end itself;
    None (or a model that reads the STFT): the STFT's bases alone, at ``sample_rate``.
    Four heatmaps: "learned filters" and "STFT bases" (each filter scaled to its own peak, time in
    ms), "learned responses" and "STFT responses" (dB re the bank's peak, frequency in Hz)."""
    fe = getattr(model_or_frontend, "frontend", model_or_frontend)
    ref = stft_bases(stft_n_fft)
    banks = [(ref, _response_db(ref, n_fft), "STFT bases", "STFT bin (0 Hz up)")]
    # hover names each row: a learned filter by its stored number (the latent channel, which the
    # cloud and exports use too) and centre frequency, not by its row in the sorted drawing
    row_names = {}
    if fe is not None:
        w, resp, centres, order, cfg = _frontend_arrays(fe, n_fft)
        sr = cfg.sample_rate
        banks.insert(0, (w, resp, "learned filters", latent_rows(True)[0]))  # _frontend_arrays sorts them
        row_names["learned filters"] = [f"filter {i} ({c:.0f} Hz)" for i, c in zip(order, centres)]
        notes = [f"{w.shape[0]} filters of {w.shape[1]} taps ({1000 * w.shape[1] / sr:.0f} ms), stride {cfg.stride}, "
                 f"max-pool {cfg.pool}; centre frequencies {centres.min():.0f}-{centres.max():.0f} Hz, "
                 f"median {np.median(centres):.0f} Hz"]
    else:
        sr, notes = sample_rate, [f"{ref.shape[0]} STFT bins of {stft_n_fft} taps ({1000 * stft_n_fft / sample_rate:.0f} ms)"]
    row_names["STFT bases"] = [f"bin {k} ({k * sr / stft_n_fft:.0f} Hz)" for k in range(ref.shape[0])]
    responses = {"learned filters": "learned responses", "STFT bases": "STFT responses"}
    titles = {"learned filters": "learned filters", "STFT bases": "STFT bases (sqrt-Hann)"}
    fig = make_subplots(rows=len(banks), cols=2, horizontal_spacing=0.1, vertical_spacing=0.14,
                        subplot_titles=[t for _, _, name, _ in banks for t in (titles[name], responses[name])])
    for row, (bank, _, name, y_title) in enumerate(banks, 1):
        peak = np.abs(bank).max(axis=1, keepdims=True) + 1e-12
        t_ms = (np.arange(bank.shape[1]) - bank.shape[1] / 2) * 1000.0 / sr
        names = np.repeat(np.asarray(row_names[name], dtype=object)[:, None], bank.shape[1], axis=1)
        fig.add_trace(go.Heatmap(z=(bank / peak).astype(np.float32), x=t_ms.astype(np.float32), name=name,
                                 colorscale="RdBu", zmid=0, zmin=-1, zmax=1, showscale=False, customdata=names,
                                 hovertemplate="%{x:.1f} ms · %{customdata} · %{z:.2f}<extra></extra>"), row=row, col=1)
        fig.update_xaxes(title_text="time (ms)", row=row, col=1)
    for row, (bank, resp, name, y_title) in enumerate(banks, 1):
        hz = (np.arange(resp.shape[1]) * sr / max(n_fft, bank.shape[1])).astype(np.float32)
        names = np.repeat(np.asarray(row_names[name], dtype=object)[:, None], resp.shape[1], axis=1)
        fig.add_trace(go.Heatmap(z=resp, x=hz, name=responses[name], coloraxis="coloraxis", customdata=names,
                                 hovertemplate="%{x:.0f} Hz · %{customdata} · %{z:.0f} dB<extra></extra>"), row=row, col=2)
        fig.update_xaxes(title_text="frequency (Hz)", row=row, col=2)
        for col in (1, 2):
            fig.update_yaxes(title_text=y_title, row=row, col=col)
    fig.update_layout(coloraxis=dict(colorscale="Magma", cmin=-60, cmax=0,
                                     colorbar=dict(title=dict(text="dB"), thickness=12, len=0.8)))
    return _layout(fig, title, 400 * len(banks) - 40, notes=notes, legend=False)


def frontend_latent_figure(latents: list[tuple[str, np.ndarray]], *, order: np.ndarray | None = None,
                           seconds_per_frame: float = 0.008, db_range: float = 60.0, max_cols: int = MAX_COLUMNS,
                           title: str = "Adaptive front-end latent", row_height: int = 200,
                           time_range: tuple[float, float] | None = None, lit: np.ndarray | None = None,
                           selectable: bool = False) -> go.Figure:
    """Stacked latents ``[(name, latent (T, F))]`` drawn where a spectrogram would be: dB re the first
    one's peak, the filters in ``order`` (e.g. ``frontend.sort_order()``: by centre frequency, as the
    thesis's fig. 6.3) from the bottom up, time in seconds.

    As :func:`spectrogram_figure`: ``time_range`` (s) shows part of it; ``lit (T, F)`` bool (in the
    filters' own order) lights bins on the first panel; ``selectable`` lets it take box
    selections, whose y range is then in rows of the drawn order (0 = the bottom row)."""
    fig = make_subplots(rows=len(latents), cols=1, shared_xaxes=True,
                        vertical_spacing=0.04 if len(latents) > 1 else 0)
    mats = [np.asarray(z, np.float32) for _, z in latents]
    if order is not None:
        mats = [m[:, np.asarray(order)] for m in mats]
        lit = None if lit is None else np.asarray(lit, bool)[:, np.asarray(order)]
    ref = float(mats[0].max()) if mats else 1.0
    y_title, row_hover = latent_rows(order is not None)
    for r, ((name, _), lat) in enumerate(zip(latents, mats), 1):
        lo, hi = frame_window(lat.shape[0], seconds_per_frame, time_range)
        pooled, step = pool_time(lat[lo:hi], max_cols, "max")
        x = ((lo + np.arange(pooled.shape[0]) * step + (step - 1) / 2) * seconds_per_frame).astype(np.float32)
        y = np.arange(lat.shape[1], dtype=np.float32)
        fig.add_trace(go.Heatmap(z=_db(pooled, ref, db_range).T, x=x, y=y, name=name, coloraxis="coloraxis",
                                 hovertemplate=f"%{{x:.2f}} s · {row_hover} · %{{z}} dB"
                                               "<extra>%{fullData.name}</extra>"),
                      row=r, col=1)
        fig.update_yaxes(title_text=y_title, row=r, col=1)
        _panel_label(fig, name, r)
        if r == 1:
            _selection_layers(fig, x, y, None if lit is None else lit[lo:hi], selectable, max_cols)
    if selectable:
        fig.update_layout(dragmode="select", selectdirection="any")
    fig.update_xaxes(title_text="time (s)", row=len(latents), col=1)
    fig.update_layout(coloraxis=dict(colorscale="Magma", cmin=-db_range, cmax=0,
                                     colorbar=dict(title=dict(text="dB"), thickness=12, len=0.8)))
    return _layout(fig, title, 60 + row_height * len(latents), legend=False)
