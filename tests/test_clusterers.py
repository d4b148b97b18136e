"""Test-time attractor estimators on synthetic embeddings with a known answer."""
import numpy as np
import pytest
import torch

from _synth import accuracy_up_to_permutation, blobs, tiny_danet
from sepviz.clusterers import (CLUSTERERS, ClusterContext, available_clusterers, run_clusterer,
                               soft_kmeans_attractors)
from sepviz.errors import SepvizInputError

FITTED = ["kmeans", "gmm", "gmm_tied", "soft_kmeans"]


def match_centres(att, centers):
    """Max distance between each true centre and its nearest attractor."""
    return float(torch.cdist(centers, att.float()).min(dim=1).values.max())


@pytest.mark.parametrize("name", FITTED)
@pytest.mark.parametrize("c", [2, 3])
def test_fitted_clusterers_recover_well_separated_blobs(name, c):
    pts, labels, centers = blobs(c=c)
    salient = torch.ones(len(pts), dtype=torch.bool)
    res = run_clusterer(name, pts, salient, ClusterContext(n_speakers=c, seed=0))
    assert res.attractors.shape == (c, 20) and res.attractors.dtype == torch.float32
    assert res.assignment.shape == (len(pts),) and res.assignment.dtype == torch.long
    assert accuracy_up_to_permutation(res.assignment, labels, c) == 1.0
    assert match_centres(res.attractors, centers) < 0.1


@pytest.mark.parametrize("name", FITTED)
def test_fitted_clusterers_are_deterministic_for_a_seed(name):
    pts, _, _ = blobs(c=3, spread=1.0, sep=2.0)  # overlapping: the result depends on the init
    salient = torch.ones(len(pts), dtype=torch.bool)
    a = run_clusterer(name, pts, salient, ClusterContext(n_speakers=3, seed=7))
    b = run_clusterer(name, pts, salient, ClusterContext(n_speakers=3, seed=7))
    assert torch.equal(a.attractors, b.attractors) and torch.equal(a.assignment, b.assignment)


def test_fitting_on_a_subsample_is_seeded_and_bounded():
    pts, labels, centers = blobs(n_per=400, c=2)
    salient = torch.ones(len(pts), dtype=torch.bool)
    ctx = ClusterContext(n_speakers=2, seed=1, max_fit_bins=100)
    a = run_clusterer("kmeans", pts, salient, ctx)
    b = run_clusterer("kmeans", pts, salient, ctx)
    assert torch.equal(a.attractors, b.attractors)
    assert accuracy_up_to_permutation(a.assignment, labels, 2) == 1.0  # every bin is still assigned


@pytest.mark.parametrize("name", ["gmm", "gmm_tied"])
def test_gmm_extras(name):
    pts, labels, _ = blobs(c=3)
    res = run_clusterer(name, pts, torch.ones(len(pts), dtype=torch.bool), ClusterContext(n_speakers=3))
    ex = res.extras
    assert ex["means"].shape == (3, 20) and ex["covariances"].shape == (3, 20, 20)
    np.testing.assert_allclose(ex["means"], res.attractors.numpy())
    assert ex["weights"].shape == (3,) and ex["weights"].sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(ex["weights"], 1 / 3, atol=0.01)  # equal-sized blobs
    for cov in ex["covariances"]:
        np.testing.assert_allclose(cov, cov.T, atol=1e-6)
        assert np.linalg.eigvalsh(cov.astype(np.float64)).min() > 0  # positive definite
    assert ex["converged"] is True


def test_soft_kmeans_is_differentiable():
    pts, _, _ = blobs(n_per=50, c=2)
    pts = pts.clone().requires_grad_()
    att, resp = soft_kmeans_attractors(pts, 2, beta=2.0, iterations=5)
    assert att.shape == (2, 20) and resp.shape == (100, 2)
    torch.testing.assert_close(resp.sum(1), torch.ones(100))
    att.pow(2).sum().backward()
    assert pts.grad is not None and torch.isfinite(pts.grad).all() and pts.grad.abs().sum() > 0
    # torch.autograd.gradcheck on a tiny double problem: the gradient is the real one.
    small = torch.randn(12, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    init = small.detach()[:2].clone()
    assert torch.autograd.gradcheck(lambda p: soft_kmeans_attractors(p, 2, 1.0, 3, init=init)[0], (small,))


def test_soft_kmeans_approaches_kmeans_for_high_beta():
    pts, labels, _ = blobs(c=3, spread=0.8, sep=2.5)  # overlapping enough for beta to matter
    salient = torch.ones(len(pts), dtype=torch.bool)
    km = run_clusterer("kmeans", pts, salient, ClusterContext(n_speakers=3, seed=0))
    gaps = {}
    for beta in (0.1, 1000.0):
        sk = run_clusterer("soft_kmeans", pts, salient, ClusterContext(n_speakers=3, seed=0, beta=beta, iterations=50))
        gaps[beta] = match_centres(sk.attractors, km.attractors)
    assert gaps[1000.0] < 0.05 and gaps[0.1] > 1.0
    # Low stiffness blurs every attractor toward the global mean.
    blurred = run_clusterer("soft_kmeans", pts, salient, ClusterContext(n_speakers=3, beta=1e-3, iterations=50))
    assert match_centres(blurred.attractors, pts.mean(0, keepdim=True)) < 0.05


@pytest.mark.parametrize("name", FITTED)
def test_only_salient_bins_fit_the_attractors(name):
    pts, labels, centers = blobs(c=2)
    outliers = 50.0 + torch.randn(300, 20, generator=torch.Generator().manual_seed(1))
    emb = torch.cat([pts, outliers])
    salient = torch.cat([torch.ones(len(pts)), torch.zeros(len(outliers))]).bool()
    res = run_clusterer(name, emb, salient, ClusterContext(n_speakers=2))
    assert match_centres(res.attractors, centers) < 0.1  # the outliers did not pull an attractor
    assert res.assignment.shape == (len(emb),)  # ... but every bin, salient or not, is assigned
    assert accuracy_up_to_permutation(res.assignment[: len(pts)], labels, 2) == 1.0
    # Control: with every bin salient the outliers do capture an attractor.
    res_all = run_clusterer(name, emb, torch.ones(len(emb), dtype=torch.bool), ClusterContext(n_speakers=2))
    assert match_centres(res_all.attractors, centers) > 1.0


def test_too_few_salient_bins_is_a_clear_error():
    with pytest.raises(SepvizInputError, match="too few"):
        run_clusterer("kmeans", torch.randn(1, 20), torch.ones(1, dtype=torch.bool), ClusterContext(n_speakers=2))


def test_fixed_needs_stored_attractors():
    pts, _, _ = blobs(c=2, k=6)
    salient = torch.ones(len(pts), dtype=torch.bool)
    with pytest.raises(SepvizInputError, match="fixed"):
        run_clusterer("fixed", pts, salient, ClusterContext(n_speakers=2))
    model = tiny_danet(emb_dim=6)
    with pytest.raises(SepvizInputError, match="no fixed"):
        run_clusterer("fixed", pts, salient, ClusterContext(n_speakers=2, model=model))
    att = torch.randn(2, 6)
    model.fixed_attractors.copy_(att)
    res = run_clusterer("fixed", pts, salient, ClusterContext(n_speakers=2, model=model))
    torch.testing.assert_close(res.attractors, att)
    assert torch.equal(res.assignment, (pts @ att.t()).argmax(1))  # dot-product assignment, like the masks
    with pytest.raises(SepvizInputError, match="2 speakers, not 3"):
        run_clusterer("fixed", pts, salient, ClusterContext(n_speakers=3, model=model))


def test_anchors_need_an_adanet_model():
    pts, _, _ = blobs(c=2, k=6)
    salient = torch.ones(len(pts), dtype=torch.bool)
    for model in (None, tiny_danet(emb_dim=6)):
        with pytest.raises(SepvizInputError, match="ADANet"):
            run_clusterer("anchors", pts, salient, ClusterContext(n_speakers=2, model=model))
    model = tiny_danet(emb_dim=6, objective="adanet", n_anchors=4)
    res = run_clusterer("anchors", pts, salient, ClusterContext(n_speakers=2, model=model))
    assert res.attractors.shape == (2, 6)
    assert res.extras["anchors"].shape == (4, 6) and res.extras["in_set_similarity"].shape == (6,)
    assert len(set(res.extras["chosen"].tolist())) == 2
    few = tiny_danet(emb_dim=6, objective="adanet", n_anchors=2)
    with pytest.raises(SepvizInputError, match="2 anchors"):
        run_clusterer("anchors", pts, salient, ClusterContext(n_speakers=3, model=few))


def test_anchors_separate_blobs_when_the_anchors_point_at_them():
    pts, labels, centers = blobs(c=2, k=6)
    model = tiny_danet(emb_dim=6, objective="adanet", n_anchors=3)
    with torch.no_grad():
        model.anchors.copy_(torch.stack([centers[0], (centers[0] + centers[1]) / 2, centers[1]]))
    res = run_clusterer("anchors", pts, torch.ones(len(pts), dtype=torch.bool),
                        ClusterContext(n_speakers=2, model=model))
    assert sorted(res.extras["chosen"].tolist()) == [0, 2]
    assert accuracy_up_to_permutation(res.assignment, labels, 2) == 1.0


def test_head_uses_the_def_mask_head_and_needs_one():
    pts, labels, centers = blobs(c=2, k=6)
    salient = torch.ones(len(pts), dtype=torch.bool)
    for model in (None, tiny_danet(emb_dim=6)):
        with pytest.raises(SepvizInputError, match="mask head"):
            run_clusterer("head", pts, salient, ClusterContext(n_speakers=2, model=model))
    model = tiny_danet(emb_dim=6, objective="upit")
    with torch.no_grad():  # a head that reads "which blob" off the embedding: output c = blob c
        model.mask_head.weight.copy_(5 * (centers - centers.mean(0)))
        model.mask_head.bias.zero_()
    res = run_clusterer("head", pts, salient, ClusterContext(n_speakers=2, model=model))
    masks = torch.as_tensor(res.extras["masks"])
    assert masks.shape == (2, len(pts)) and torch.allclose(masks.sum(0), torch.ones(len(pts)))
    assert torch.equal(res.assignment, masks.argmax(0))
    assert accuracy_up_to_permutation(res.assignment, labels, 2) == 1.0
    assert match_centres(res.attractors, centers) < 0.3  # mask-weighted means sit on the blobs
    assert "head" in available_clusterers(model) and "head" not in available_clusterers(tiny_danet())
    with pytest.raises(SepvizInputError, match="2 outputs"):
        run_clusterer("head", pts, salient, ClusterContext(n_speakers=3, model=model))


def test_oracle_needs_references_and_uses_the_ideal_assignment():
    pts, labels, centers = blobs(c=3)
    salient = torch.ones(len(pts), dtype=torch.bool)
    with pytest.raises(SepvizInputError, match="reference"):
        run_clusterer("oracle", pts, salient, ClusterContext(n_speakers=3))
    y = torch.nn.functional.one_hot(labels, 3).t().float()  # (C, N)
    res = run_clusterer("oracle", pts, salient, ClusterContext(n_speakers=3, oracle_assignment=y))
    assert torch.equal(res.assignment, labels)
    for c in range(3):
        torch.testing.assert_close(res.attractors[c], pts[labels == c].mean(0), atol=1e-5, rtol=1e-5)


def test_unknown_clusterer_lists_the_choices():
    with pytest.raises(SepvizInputError, match=r"unknown clusterer 'dbscan'.*kmeans"):
        run_clusterer("dbscan", torch.randn(10, 4), torch.ones(10, dtype=torch.bool), ClusterContext(n_speakers=2))


def test_available_clusterers():
    assert set(CLUSTERERS) == {"kmeans", "gmm", "gmm_tied", "soft_kmeans", "fixed", "anchors", "head", "oracle"}
    assert available_clusterers(None) == ["kmeans", "gmm", "gmm_tied", "soft_kmeans"]
    m = tiny_danet(objective="adanet", n_anchors=3)
    m.fixed_attractors.fill_(1.0)
    assert available_clusterers(m, has_references=True) == ["kmeans", "gmm", "gmm_tied", "soft_kmeans", "fixed",
                                                            "anchors", "oracle"]


def test_run_clusterer_accepts_grad_tensors_and_other_dtypes():
    pts, labels, _ = blobs(c=2)
    res = run_clusterer("kmeans", pts.double().requires_grad_(), torch.ones(len(pts)), ClusterContext(n_speakers=2))
    assert accuracy_up_to_permutation(res.assignment, labels, 2) == 1.0


@pytest.mark.parametrize("name", FITTED)
def test_fitted_clusterers_group_by_direction_not_by_loudness(name):
    """Two talkers = two directions; lengths spread over two decades (loud and quiet bins).

    Euclidean k-means on the raw vectors would split loud from quiet bins; the clusterers work
    on directions and must recover the talkers, with attractors that are raw-embedding means.
    """
    g = torch.Generator().manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(2, 20, generator=g), dim=1)
    labels = torch.arange(2000) % 2
    lengths = 10 ** (2 * torch.rand(2000, generator=g) - 1)  # 0.1 .. 10
    pts = lengths[:, None] * (dirs[labels] + 0.1 * torch.randn(2000, 20, generator=g))
    res = run_clusterer(name, pts, torch.ones(2000, dtype=torch.bool), ClusterContext(n_speakers=2, seed=0))
    assert accuracy_up_to_permutation(res.assignment, labels, 2) > 0.99
    means = torch.stack([pts[labels == c].mean(0) for c in range(2)])
    assert match_centres(res.attractors, means) < 0.1 * float(means.norm(dim=1).min())


def _talkers_and_a_quiet_crowd():
    """Two talkers' loud bins plus three times as many quiet bins pointing elsewhere (noise)."""
    pts, labels, _ = blobs(n_per=100, c=2, spread=0.05)
    g = torch.Generator().manual_seed(3)
    d = torch.randn(20, generator=g)
    crowd = 3 * d / d.norm() + 0.3 * torch.randn(600, 20, generator=g)
    loud = torch.cat([torch.full((200,), 5.0), torch.full((600,), 0.01)])
    return torch.cat([pts, crowd]), labels, loud


@pytest.mark.parametrize("name", ["kmeans", "soft_kmeans"])
def test_fit_weights_let_loud_bins_decide_the_attractors(name):
    pts, labels, loud = _talkers_and_a_quiet_crowd()
    salient = torch.ones(len(pts), dtype=torch.bool)
    for seed in range(5):
        res = run_clusterer(name, pts, salient, ClusterContext(n_speakers=2, seed=seed, fit_weights=loud))
        assert accuracy_up_to_permutation(res.assignment[:200], labels, 2) == 1.0


def test_unweighted_kmeans_spends_a_cluster_on_the_quiet_crowd():
    """The case above is a real test: without weights k-means mostly splits talkers from crowd."""
    pts, labels, _ = _talkers_and_a_quiet_crowd()
    salient = torch.ones(len(pts), dtype=torch.bool)
    accs = [accuracy_up_to_permutation(run_clusterer("kmeans", pts, salient, ClusterContext(n_speakers=2, seed=s))
                                       .assignment[:200], labels, 2) for s in range(5)]
    assert sum(a < 1.0 for a in accs) >= 3


def test_fit_weights_all_zero_is_a_clear_error():
    pts, _, _ = blobs(n_per=20, c=2)
    salient = torch.ones(len(pts), dtype=torch.bool)
    with pytest.raises(SepvizInputError, match="too few loud"):
        run_clusterer("kmeans", pts, salient, ClusterContext(n_speakers=2, fit_weights=torch.zeros(len(pts))))


def test_each_clusterer_s_registry_entry_says_what_it_needs_and_does():
    from sepviz.clusterers import MODEL_CLUSTERERS

    assert MODEL_CLUSTERERS == ("kmeans", "gmm", "gmm_tied", "soft_kmeans", "fixed", "anchors", "head")
    assert [n for n, c in CLUSTERERS.items() if c.exact] == ["oracle"]
    assert {n for n, c in CLUSTERERS.items() if c.weights_bins} == {"kmeans", "soft_kmeans", "gmm_tied"}
    assert {n: c.needs for n, c in CLUSTERERS.items() if c.needs} == {
        "fixed": "fixed_attractors", "anchors": "anchors", "head": "mask_head", "oracle": "references"}
    assert CLUSTERERS["oracle"].available(None, has_references=True) and not CLUSTERERS["oracle"].available(None)
    assert "anchors" in CLUSTERERS["anchors"].missing() and all(c.label for c in CLUSTERERS.values())
    m = tiny_danet()
    assert CLUSTERERS["kmeans"].refusal(m, 3) is None and CLUSTERERS["fixed"].most_talkers(m) == m.config.n_speakers
    assert CLUSTERERS["fixed"].refusal(m, m.config.n_speakers + 1).startswith("the checkpoint has fixed attractors for")
