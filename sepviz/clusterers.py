"""Attractor estimators at test time, registered by name.

Each clusterer sees the embeddings of all T-F bins ``emb (N, K)`` and a boolean ``salient (N,)``;
it estimates ``C`` attractors from the salient bins only (silence carries no speaker
information) and assigns *every* bin, so masks cover the whole spectrogram.  All are seeded and
deterministic.

| name | attractors from | needs |
|---|---|---|
| kmeans | k-means on embedding directions; attractors = mean raw embedding per cluster | - |
| gmm | means of a full-covariance Gaussian mixture (BGRU+GMM DANet) | - |
| soft_kmeans | soft k-means with stiffness ``beta`` (differentiable, torch) | - |
| fixed | mean training attractors stored in the checkpoint | a trained checkpoint |
| anchors | ADANet: the anchor subset with least in-set similarity | an ADANet checkpoint |
| oracle | centroids of the ideal (IBM) assignment | reference sources |
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .danet import DANet, anchor_attractors, ideal_attractors
from .errors import SepvizInputError

MAX_FIT_BINS = 30000  # k-means / GMM fit on a seeded subsample: same attractors, bounded time


@dataclass
class ClusterContext:
    n_speakers: int
    model: DANet | None = None
    seed: int = 0
    beta: float = 10.0                       # soft k-means stiffness
    iterations: int = 20                     # soft k-means iterations
    oracle_assignment: torch.Tensor | None = None  # (C, N) ideal assignment, for "oracle"
    max_fit_bins: int = MAX_FIT_BINS


@dataclass
class ClusterResult:
    attractors: torch.Tensor       # (C, K)
    assignment: torch.Tensor       # (N,) int64: index of the speaker each bin belongs to
    extras: dict = field(default_factory=dict)  # e.g. GMM means/covariances/weights, chosen anchors


def _fit_subset(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> np.ndarray:
    pts = emb[salient] if bool(salient.any()) else emb
    if pts.shape[0] < ctx.n_speakers:
        raise SepvizInputError("too few loud time-frequency bins to find the speakers; is the audio silent?")
    if pts.shape[0] > ctx.max_fit_bins:
        g = torch.Generator().manual_seed(ctx.seed)
        pts = pts[torch.randperm(pts.shape[0], generator=g)[: ctx.max_fit_bins]]
    return pts.detach().cpu().double().numpy()


def _single_threaded():
    """sklearn's OpenMP/BLAS pools fight torch's own OpenMP runtime: on a 2-core CPU k-means and the
    GMM ran 4-8x slower multi-threaded than on one thread.  The fits are small, so use one."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _nearest(emb: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    return torch.cdist(emb.float(), centers.float()).argmin(dim=1)


def _dot_assign(emb: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    return (emb.float() @ att.float().t()).argmax(dim=1)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def kmeans(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    """k-means on the *directions* of the embeddings; attractors are the raw-embedding means.

    Speaker identity lives in an embedding's direction, its length mostly follows loudness: on
    raw vectors k-means tends to split loud from quiet bins instead of one talker from another
    (session 1's default checkpoint, 25 unseen-talker mixtures: -1.4 dB SI-SNRi on raw vectors,
    +0.5 dB on directions).  The attractor of a cluster is then the mean of its raw
    embeddings, exactly how ideal attractors are formed in training, and each bin is assigned to
    the attractor with the largest dot product, the same rule the masks follow.
    """
    from sklearn.cluster import KMeans

    pts = torch.as_tensor(_fit_subset(emb, salient, ctx), dtype=torch.float32)
    with _single_threaded():
        km = KMeans(n_clusters=ctx.n_speakers, n_init=4, random_state=ctx.seed).fit(_unit(pts).double().numpy())
    labels = torch.as_tensor(km.labels_, dtype=torch.long)
    centers = torch.stack([pts[labels == c].mean(0) if bool((labels == c).any()) else
                           torch.as_tensor(km.cluster_centers_[c], dtype=torch.float32)
                           for c in range(ctx.n_speakers)])
    return ClusterResult(centers, _dot_assign(emb, centers), {"inertia": float(km.inertia_)})


def gmm(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    """Full-covariance GMM; means are the attractors, covariances are kept for the ellipses."""
    from sklearn.mixture import GaussianMixture

    pts = _fit_subset(emb, salient, ctx)
    gm = GaussianMixture(n_components=ctx.n_speakers, covariance_type="full", reg_covar=1e-4,
                         max_iter=100, n_init=1, init_params="k-means++", random_state=ctx.seed)
    with warnings.catch_warnings(), _single_threaded():
        warnings.simplefilter("ignore")
        gm.fit(pts)
        labels = torch.as_tensor(gm.predict(emb.detach().cpu().double().numpy()), dtype=torch.long)
    means = torch.as_tensor(gm.means_, dtype=torch.float32)
    extras = {"means": gm.means_.astype(np.float32), "covariances": gm.covariances_.astype(np.float32),
              "weights": gm.weights_.astype(np.float32), "converged": bool(gm.converged_)}
    return ClusterResult(means, labels, extras)


def _farthest_point_init(pts: torch.Tensor, c: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centers = [pts[torch.randint(pts.shape[0], (1,), generator=g)].squeeze(0)]
    for _ in range(1, c):
        d = torch.cdist(pts, torch.stack(centers)).min(dim=1).values
        centers.append(pts[d.argmax()])
    return torch.stack(centers)


def soft_kmeans_attractors(pts: torch.Tensor, c: int, beta: float, iterations: int, seed: int = 0,
                           init: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable soft k-means: responsibilities ``softmax(-beta ||v - a||^2)``.

    Large ``beta`` approaches hard k-means; small ``beta`` blurs every attractor toward the mean.
    Returns ``(attractors (C, K), responsibilities (N, C))``.
    """
    centers = _farthest_point_init(pts.detach(), c, seed) if init is None else init
    resp = None
    for _ in range(max(1, iterations)):
        resp = torch.softmax(-beta * torch.cdist(pts, centers) ** 2, dim=1)
        centers = resp.t() @ pts / (resp.sum(0).unsqueeze(1) + 1e-8)
    return centers, resp


def soft_kmeans(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    pts = torch.as_tensor(_fit_subset(emb, salient, ctx), dtype=torch.float32)
    # Scale-free stiffness: distances are measured relative to the data's mean squared spread.
    scale = ((pts - pts.mean(0)) ** 2).sum(1).mean().clamp_min(1e-8)
    centers, _ = soft_kmeans_attractors(pts / scale.sqrt(), ctx.n_speakers, ctx.beta, ctx.iterations, ctx.seed)
    centers = centers * scale.sqrt()
    return ClusterResult(centers, _nearest(emb, centers), {"beta": ctx.beta, "iterations": ctx.iterations})


def fixed(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    model = ctx.model
    if model is None or not model.has_fixed_attractors:
        raise SepvizInputError("this checkpoint stores no fixed (mean training) attractors")
    if ctx.n_speakers > model.fixed_attractors.shape[0]:
        raise SepvizInputError(f"this checkpoint stores fixed attractors for "
                               f"{model.fixed_attractors.shape[0]} speakers, not {ctx.n_speakers}")
    att = model.fixed_attractors[: ctx.n_speakers].detach().float().to(emb.device)
    return ClusterResult(att, _dot_assign(emb, att), {})


def anchors(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    model = ctx.model
    if model is None or model.anchors is None:
        raise SepvizInputError("the 'anchors' clusterer needs an ADANet checkpoint (this model has no anchors)")
    if ctx.n_speakers > model.anchors.shape[0]:
        raise SepvizInputError(f"this model has {model.anchors.shape[0]} anchors; cannot find {ctx.n_speakers} speakers")
    with torch.no_grad():
        att, chosen, in_set = anchor_attractors(emb.unsqueeze(0), model.anchors, ctx.n_speakers,
                                                salient.float().unsqueeze(0))
    att = att[0]
    extras = {"anchors": model.anchors.detach().float().cpu().numpy(), "chosen": chosen[0].cpu().numpy(),
              "in_set_similarity": in_set[0].cpu().numpy()}
    return ClusterResult(att, _dot_assign(emb, att), extras)


def oracle(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    if ctx.oracle_assignment is None:
        raise SepvizInputError("the 'oracle' clusterer needs the reference sources")
    y = ctx.oracle_assignment.float()  # (C, N)
    att = ideal_attractors(emb.unsqueeze(0), y.unsqueeze(0).unsqueeze(-1), salient.float().reshape(1, -1, 1))[0]
    return ClusterResult(att, y.argmax(0), {})


ClustererFn = Callable[[torch.Tensor, torch.Tensor, ClusterContext], ClusterResult]

CLUSTERERS: dict[str, ClustererFn] = {
    "kmeans": kmeans,
    "gmm": gmm,
    "soft_kmeans": soft_kmeans,
    "fixed": fixed,
    "anchors": anchors,
    "oracle": oracle,
}


def available_clusterers(model: DANet | None, has_references: bool = False) -> list[str]:
    """The clusterers that can run for this model (and whether references were given)."""
    names = ["kmeans", "gmm", "soft_kmeans"]
    if model is not None and model.has_fixed_attractors:
        names.append("fixed")
    if model is not None and model.anchors is not None:
        names.append("anchors")
    if has_references:
        names.append("oracle")
    return names


def run_clusterer(name: str, emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    try:
        fn = CLUSTERERS[name]
    except KeyError:
        raise SepvizInputError(f"unknown clusterer {name!r}; choose one of {sorted(CLUSTERERS)}") from None
    with torch.no_grad():
        return fn(emb.detach().float(), salient.bool(), ctx)
