"""Attractor estimators at test time, registered by name.

Each clusterer sees the embeddings of all T-F bins ``emb (N, K)`` and a boolean ``salient (N,)``;
it estimates ``C`` attractors from the salient bins only (silence carries no speaker
information) and assigns *every* bin, so masks cover the whole spectrogram.  With
``ClusterContext.fit_weights`` (per-bin loudness, see ``features.loudness_weights``) the fitted
clusterers (k-means, soft k-means) let loud bins count more: the metrics are energy-weighted, quiet bins are noisy.
All are seeded and deterministic.

| name | attractors from | needs |
|---|---|---|
| kmeans | k-means on embedding directions; attractors = mean raw embedding per cluster | - |
| gmm | full-covariance Gaussian mixture on directions (BGRU+GMM DANet); posterior-weighted raw means | - |
| gmm_tied | as gmm, one full covariance shared by the talkers, started from weighted k-means | - |
| soft_kmeans | soft k-means on directions, stiffness ``beta`` (differentiable, torch) | - |
| fixed | mean training attractors stored in the checkpoint | a trained checkpoint |
| anchors | ADANet: the anchor subset with least in-set similarity | an ADANet checkpoint |
| head | DEF: the uPIT mask head's masks; attractors = mask-weighted mean embeddings (for plots) | a DEF (``upit``) checkpoint |
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
from .threads import one_blas_thread

# What the studio, the CLI and `separate` use unless told otherwise: soft k-means is the fit the
# shipped DANets' last stages train with (`clustered_weight`), it is level with k-means (within
# 0.03 dB) on both validation folders with the default's calibrated tracking, and as fast.  (On
# the whole test folders of docs/results.md k-means is ahead: 9.46 vs 9.43 dB on 100 2-talker
# mixtures, 7.90 vs 7.76 on 60 FSDD ones, 7.25 vs 6.99 on 60 3-talker ones.)  On 100 more
# validation mixtures of each kind k-means led by +0.074 / +0.064 dB (2 / 3 talkers) and tied on
# FSDD: +0.045 dB on average, under the 0.05 dB that the rule set beforehand asked for a switch
# (docs/results.md, thirteenth session).
DEFAULT_CLUSTERER = "soft_kmeans"
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
    fit_weights: torch.Tensor | None = None  # (N,) >= 0: how much each bin counts in k-means/GMM fits


@dataclass
class ClusterResult:
    attractors: torch.Tensor       # (C, K)
    assignment: torch.Tensor       # (N,) int64: index of the speaker each bin belongs to
    extras: dict = field(default_factory=dict)  # e.g. GMM means/covariances/weights, chosen anchors


def _fit_subset(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> tuple[torch.Tensor, torch.Tensor]:
    """The bins a clusterer fits on: ``(points (M, K), weights (M,))``, a seeded subsample of the
    salient bins when there are more than ``max_fit_bins``; weights are all one without
    ``ctx.fit_weights``."""
    use = salient if bool(salient.any()) else torch.ones_like(salient)
    pts = emb[use]
    w = torch.ones(pts.shape[0]) if ctx.fit_weights is None else ctx.fit_weights.reshape(-1)[use].float().cpu()
    if pts.shape[0] < ctx.n_speakers or not bool((w > 0).sum() >= ctx.n_speakers):
        raise SepvizInputError("too few loud time-frequency bins to find the speakers; is the audio silent?")
    if pts.shape[0] > ctx.max_fit_bins:
        g = torch.Generator().manual_seed(ctx.seed)
        keep = torch.randperm(pts.shape[0], generator=g)[: ctx.max_fit_bins]
        pts, w = pts[keep], w[keep]
    return pts.detach().cpu().float(), w


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

    pts, w = _fit_subset(emb, salient, ctx)
    with one_blas_thread():
        km = KMeans(n_clusters=ctx.n_speakers, n_init=4, random_state=ctx.seed).fit(
            _unit(pts).double().numpy(), sample_weight=w.double().numpy())
    labels = torch.as_tensor(km.labels_, dtype=torch.long)
    centers = torch.stack([pts[labels == c].mean(0) if bool((labels == c).any()) else
                           torch.as_tensor(km.cluster_centers_[c], dtype=torch.float32)
                           for c in range(ctx.n_speakers)])
    return ClusterResult(centers, _dot_assign(emb, centers), {"inertia": float(km.inertia_)})


def raw_means(pts: torch.Tensor, resp: torch.Tensor) -> torch.Tensor:
    """Attractors as (soft) means of the raw embeddings: ``resp (N, C)``, ``pts (N, K)`` -> ``(C, K)``
    (leading batch dimensions allowed)."""
    return resp.transpose(-1, -2) @ pts / resp.sum(-2).clamp_min(1e-8).unsqueeze(-1)


def _gmm(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext, covariance_type: str) -> ClusterResult:
    """Gaussian mixture on the embedding directions (as :func:`kmeans`, for the same reason).

    Attractors are the posterior-weighted means of the raw embeddings.  The ``means`` and
    ``covariances`` kept for the plots are the posterior-weighted mean and covariance of each
    component's raw embeddings, so the ellipses sit on the cloud the studio draws.  EM is
    unweighted: sklearn's GMM takes no sample weights, and drawing bins in proportion to the
    loudness weights (duplicates) made full-covariance components collapse (-0.8 dB).
    """
    from sklearn.mixture import GaussianMixture

    pts, w = _fit_subset(emb, salient, ctx)
    unit = _unit(pts).double().numpy()
    if covariance_type == "full":
        # Started from the k-means partition: k-means++ seeding let one full-covariance component
        # swallow a talker's bins of both kinds (15 mixtures: -0.45 dB vs +0.98 dB SI-SNRi).
        start = {"init_params": "kmeans"}
    else:
        # Tied: started from the loudness-weighted k-means centres, as the `kmeans` clusterer.
        from sklearn.cluster import KMeans

        with one_blas_thread():
            km = KMeans(n_clusters=ctx.n_speakers, n_init=4, random_state=ctx.seed).fit(
                unit, sample_weight=w.double().numpy())
        start = {"means_init": km.cluster_centers_}
    gm = GaussianMixture(n_components=ctx.n_speakers, covariance_type=covariance_type, reg_covar=1e-3,
                         max_iter=100, n_init=1, random_state=ctx.seed, **start)
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore")
        gm.fit(unit)
        resp = torch.as_tensor(gm.predict_proba(unit), dtype=torch.float32)
    att = raw_means(pts, resp)
    covs = []
    for c in range(ctx.n_speakers):
        d = pts - att[c]
        covs.append((resp[:, c, None] * d).t() @ d / resp[:, c].sum().clamp_min(1e-8))
    extras = {"means": att.numpy(), "covariances": torch.stack(covs).numpy(),
              "weights": gm.weights_.astype(np.float32), "converged": bool(gm.converged_),
              "covariance_type": covariance_type}
    return ClusterResult(att, _dot_assign(emb, att), extras)


def gmm(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    """Full-covariance GMM, one covariance per talker (BGRU+GMM DANet)."""
    return _gmm(emb, salient, ctx, "full")


def gmm_tied(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    """GMM with one full covariance shared by the talkers ("tied").

    With a covariance per talker, one broad component tends to swallow the bins of both talkers
    while the other shrinks onto a tight core (default checkpoint, 25 unseen-talker mixtures:
    4.0 dB SI-SNRi against 6.7 dB for k-means); sharing the covariance keeps the components
    alike in shape and still models correlated embedding dimensions, which k-means cannot.
    """
    return _gmm(emb, salient, ctx, "tied")


def _farthest_point_init(pts: torch.Tensor, c: int, seed: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Seeded start: a random point (drawn by weight), then each next one farthest from those
    chosen (distance times weight, so a far but negligible bin is not picked)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.ones(pts.shape[0]) if weights is None else weights.detach().float().clamp_min(0)
    centers = [pts[torch.multinomial(w.double() + 1e-12, 1, generator=g)].squeeze(0)]
    for _ in range(1, c):
        d = torch.cdist(pts, torch.stack(centers)).min(dim=1).values
        centers.append(pts[(d * w).argmax()])
    return torch.stack(centers)


def soft_kmeans_attractors(pts: torch.Tensor, c: int, beta: float, iterations: int, seed: int = 0,
                           init: torch.Tensor | None = None,
                           weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable soft k-means: responsibilities ``softmax(-beta ||v - a||^2)``.

    Large ``beta`` approaches hard k-means; small ``beta`` blurs every attractor toward the mean.
    ``weights (N,)`` make some points count more in the centre updates.
    Returns ``(attractors (C, K), responsibilities (N, C))``.  Leading batch dimensions are
    allowed (``pts (B, N, K)``, ``init (B, C, K)``, ``weights (B, N)``): one fit per item, in one go.
    """
    if init is None and pts.dim() != 2:
        raise ValueError("a batched soft k-means fit needs its start (init)")
    centers = _farthest_point_init(pts.detach(), c, seed, weights) if init is None else init
    resp = None
    for _ in range(max(1, iterations)):
        resp = torch.softmax(-beta * torch.cdist(pts, centers) ** 2, dim=-1)
        wr = resp if weights is None else resp * weights.unsqueeze(-1)
        centers = wr.transpose(-1, -2) @ pts / (wr.sum(-2).unsqueeze(-1) + 1e-8)
    return centers, resp


def direction_responsibilities(pts: torch.Tensor, c: int, beta: float = 10.0, iterations: int = 20, seed: int = 0,
                               weights: torch.Tensor | None = None) -> torch.Tensor:
    """Soft k-means responsibilities ``(N, C)`` of the embedding *directions* (no gradient).

    The one fit behind the ``soft_kmeans`` clusterer and the trainer's clustered-attractor term,
    so training scores exactly the attractors the studio will find: a batch of one for
    :func:`batched_direction_responsibilities`, fitted on the CPU.
    """
    w = None if weights is None else weights.detach().float().cpu().unsqueeze(0)
    resp = batched_direction_responsibilities(pts.detach().float().cpu().unsqueeze(0), torch.tensor([pts.shape[0]]),
                                              c, beta, iterations, seed, weights=w)
    return resp[0].to(pts.device)


def batched_direction_responsibilities(pts: torch.Tensor, lengths: torch.Tensor, c: int, beta: float = 10.0,
                                       iterations: int = 20, seed: int = 0,
                                       weights: torch.Tensor | None = None) -> torch.Tensor:
    """Soft k-means on the directions of a batch of padded items, ``pts (B, N, K)`` of which item
    ``i`` holds ``lengths[i]`` points: responsibilities ``(B, N, C)``, zero on the padding.

    The stiffness is scale-free: distances are measured relative to each item's mean squared
    spread of directions.  ``weights (B, N)`` make some points count more (start and updates).
    The trainer fits a whole batch in one go, where the embeddings are (a GPU step does not wait
    on a per-item loop on the CPU); the seeded start is drawn on the CPU, item by item, so each
    item gets the start (and the answer) its own fit would.
    """
    with torch.no_grad():
        n = pts.shape[1]
        valid = (torch.arange(n, device=pts.device) < lengths.to(pts.device).unsqueeze(1)).float()  # (B, N)
        unit = _unit(pts.detach().float()) * valid.unsqueeze(-1)
        count = valid.sum(1).clamp_min(1)
        mean = unit.sum(1) / count.unsqueeze(1)
        scale = ((((unit - mean.unsqueeze(1)) ** 2).sum(-1) * valid).sum(1) / count).clamp_min(1e-8)
        x = unit / scale.sqrt()[:, None, None]
        w = valid if weights is None else weights.detach().float().to(pts.device) * valid
        init = torch.stack([_farthest_point_init(x[i, : int(lengths[i])].cpu(), c, seed,
                                                 None if weights is None else w[i, : int(lengths[i])].cpu())
                            for i in range(x.shape[0])])
        _, resp = soft_kmeans_attractors(x, c, beta, iterations, init=init.to(x.device), weights=w)
    return resp * valid.unsqueeze(-1)


def soft_kmeans(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    """Soft k-means on the embedding directions; attractors = responsibility-weighted raw means."""
    pts, w = _fit_subset(emb, salient, ctx)
    resp = direction_responsibilities(pts, ctx.n_speakers, ctx.beta, ctx.iterations, ctx.seed,
                                      weights=None if ctx.fit_weights is None else w)
    att = raw_means(pts, resp)
    return ClusterResult(att, _dot_assign(emb, att), {"beta": ctx.beta, "iterations": ctx.iterations})


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


def head(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    """DEF (uPIT on deep-clustering embeddings): the masks come from the model's per-bin head.

    Nothing is clustered: the head was trained with utterance-level PIT to give one mask per
    output. The attractors returned are the mask-weighted means of the salient embeddings, so
    the studio can draw where each output sits in the cloud; ``extras["masks"]`` holds the
    head's own soft masks ``(C, N)``, which the separator uses instead of attractor similarity.
    """
    model = ctx.model
    if model is None or model.mask_head is None:
        raise SepvizInputError("the 'head' clusterer needs a DEF (uPIT) checkpoint; this model has no mask head")
    n_out = model.mask_head.out_features
    if ctx.n_speakers != n_out:
        raise SepvizInputError(f"this model's mask head has {n_out} outputs; it cannot give {ctx.n_speakers} voices")
    head_layer = model.mask_head
    masks = torch.softmax(head_layer(emb.to(head_layer.weight.dtype)), dim=-1).t().float()  # (C, N)
    w = masks * salient.float().unsqueeze(0)
    att = w @ emb.float() / w.sum(1, keepdim=True).clamp_min(1e-8)
    return ClusterResult(att, masks.argmax(0), {"masks": masks})


def oracle(emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    if ctx.oracle_assignment is None:
        raise SepvizInputError("the 'oracle' clusterer needs the reference sources")
    y = ctx.oracle_assignment.float()  # (C, N)
    att = ideal_attractors(emb.unsqueeze(0), y.unsqueeze(0).unsqueeze(-1), salient.float().reshape(1, -1, 1))[0]
    return ClusterResult(att, y.argmax(0), {})


ClustererFn = Callable[[torch.Tensor, torch.Tensor, ClusterContext], ClusterResult]

@dataclass(frozen=True)
class Need:
    """What a clusterer needs beyond the embeddings, and how many talkers that part of the model holds."""

    has: Callable[[DANet | None, bool], bool]   # (model, has_references) -> whether it is there
    missing: str                                # the note when it is not
    talkers: Callable[[DANet], int | None] = lambda m: None  # the most talkers it can give (None: any)
    exact_count: bool = False                   # it gives exactly that many voices, no fewer
    too_few: str = ""                           # the note when the data has more talkers: {k} it holds, {n} in the data


NEEDS: dict[str, Need] = {
    "fixed_attractors": Need(lambda m, refs: m is not None and m.has_fixed_attractors,
                             "the checkpoint stores no fixed attractors", lambda m: m.fixed_attractors.shape[0],
                             too_few="the checkpoint has fixed attractors for {k} talkers, the data has {n}"),
    "anchors": Need(lambda m, refs: m is not None and m.anchors is not None, "the model has no ADANet anchors",
                    lambda m: None if m.anchors is None else m.anchors.shape[0], too_few="{k} anchors < {n} talkers"),
    "mask_head": Need(lambda m, refs: m is not None and m.mask_head is not None,
                      "the model has no DEF (uPIT) mask head",
                      lambda m: None if m.mask_head is None else m.mask_head.out_features, exact_count=True,
                      too_few="the mask head has {k} outputs, the data has {n} talkers"),
    "references": Need(lambda m, refs: refs, "it needs the reference sources"),
}


@dataclass(frozen=True)
class Clusterer:
    """One registry entry: everything the CLI, the evaluation and the separator ask of a clusterer."""

    fit: ClustererFn
    label: str                     # what its attractors are, in a few words
    needs: str | None = None       # a key of NEEDS, or None: runs on any model
    weights_bins: bool = False     # fits with ClusterContext.fit_weights (the loudness weights)
    counts_with: str = "kmeans"    # the clusterer whose fit counts the talkers for "auto" (speaker_count_plan)
    exact: bool = False            # attractors from the references: T = 1, no tracking, no warning check

    def available(self, model: DANet | None, has_references: bool = False) -> bool:
        return self.needs is None or NEEDS[self.needs].has(model, has_references)

    def missing(self) -> str:
        """Why it cannot run when :meth:`available` says no."""
        return NEEDS[self.needs].missing if self.needs else "not available for this model"

    def most_talkers(self, model: DANet) -> int | None:
        """The most talkers this model lets it separate (None: any number)."""
        return NEEDS[self.needs].talkers(model) if self.needs else None

    def refusal(self, model: DANet, n_speakers: int) -> str | None:
        """Why an available clusterer cannot separate ``n_speakers`` talkers with this model, or None."""
        k = self.most_talkers(model)
        if k is None or (k == n_speakers if NEEDS[self.needs].exact_count else k >= n_speakers):
            return None
        return NEEDS[self.needs].too_few.format(k=k, n=n_speakers)


CLUSTERERS: dict[str, Clusterer] = {
    "kmeans": Clusterer(kmeans, "k-means", weights_bins=True),
    "gmm": Clusterer(gmm, "Gaussian mixture (full covariance)"),
    "gmm_tied": Clusterer(gmm_tied, "Gaussian mixture (tied covariance)", weights_bins=True),
    "soft_kmeans": Clusterer(soft_kmeans, "soft k-means", weights_bins=True),
    "fixed": Clusterer(fixed, "fixed training attractors", needs="fixed_attractors"),
    "anchors": Clusterer(anchors, "ADANet anchors", needs="anchors", counts_with="anchors"),
    "head": Clusterer(head, "DEF mask head", needs="mask_head", counts_with="head"),
    "oracle": Clusterer(oracle, "oracle (ideal assignment)", needs="references", exact=True),
}
MODEL_CLUSTERERS = tuple(n for n, c in CLUSTERERS.items() if not c.exact)  # those that need no references


def available_clusterers(model: DANet | None, has_references: bool = False) -> list[str]:
    """The clusterers that can run for this model (and whether references were given)."""
    return [n for n, c in CLUSTERERS.items() if c.available(model, has_references)]


def run_clusterer(name: str, emb: torch.Tensor, salient: torch.Tensor, ctx: ClusterContext) -> ClusterResult:
    try:
        fn = CLUSTERERS[name].fit
    except KeyError:
        raise SepvizInputError(f"unknown clusterer {name!r}; choose one of {sorted(CLUSTERERS)}") from None
    with torch.no_grad():
        return fn(emb.detach().float(), salient.bool(), ctx)
