"""sepviz.viz: projections, ellipse maths, figures and their payload size."""
from __future__ import annotations

import importlib.util

import numpy as np
import plotly.graph_objects as go
import pytest

from sepviz import viz


def _cov(angle: float, sx: float, sy: float) -> np.ndarray:
    r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return r @ np.diag([sx ** 2, sy ** 2]) @ r.T


def _tiny_tf(t=60, f=20, k=6, c=2, seed=0):
    """A fake (T, F, K) embedding of ``c`` speakers, salient mask, magnitudes, masks, attractors."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(c, k)) * 3
    owner = rng.integers(c, size=(t, f))
    v = (centers[owner] + rng.normal(size=(t, f, k)) * 0.5).astype(np.float32)
    mag = np.abs(rng.normal(size=(t, f))).astype(np.float32) + 1e-3
    salient = mag > np.quantile(mag, 0.1)
    masks = np.stack([(owner == i).astype(np.float32) * 0.8 + 0.1 for i in range(c)])
    masks /= masks.sum(0, keepdims=True)
    return v, salient, mag, owner, masks, centers


# ----------------------------------------------------------------------------- projections
def test_pca_projection_is_consistent_and_deterministic():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 8)) @ rng.normal(size=(8, 8))
    coords, p = viz.project(x, "pca", 2)
    assert coords.shape == (500, 2) and coords.dtype == np.float32
    np.testing.assert_allclose(p.transform(x), coords, atol=1e-5)
    # orthonormal axes, variance ordered, signs fixed
    np.testing.assert_allclose(p.components @ p.components.T, np.eye(2), atol=1e-8)
    assert coords[:, 0].var() >= coords[:, 1].var()
    coords2, _ = viz.project(x[::-1].copy(), "pca", 2)
    np.testing.assert_allclose(np.sort(coords2[:, 0]), np.sort(coords[:, 0]), atol=1e-4)
    c3, p3 = viz.project(x, "pca", 3)
    assert c3.shape == (500, 3) and len(p3.axis_titles()) == 3
    with pytest.raises(ValueError):
        viz.project(x, "tsne", 2)
    with pytest.raises(ValueError):
        viz.project(x, "pca", 4)


def test_prepare_cloud_subsamples_salient_bins_in_range_with_a_seed():
    v, salient, mag, *_ = _tiny_tf(t=100, f=20)
    a = viz.prepare_cloud(v, salient, mag, n_points=300, seed=3, seconds_per_frame=0.01)
    b = viz.prepare_cloud(v, salient, mag, n_points=300, seed=3, seconds_per_frame=0.01)
    np.testing.assert_array_equal(a.index, b.index)
    assert len(a.index) == 300 and salient.reshape(-1)[a.index].all()
    assert a.n_candidates == salient.sum()
    w = viz.prepare_cloud(v, salient, mag, n_points=5000, seconds_per_frame=0.01, time_range=(0.2, 0.5))
    assert w.frame.min() >= 20 and w.frame.max() <= 51
    assert (w.power_db <= 0).all()
    np.testing.assert_array_equal(a.take(np.arange(100 * 20).reshape(100, 20)), a.index)


def test_frame_window_and_pooling():
    assert viz.frame_window(100, 0.01, None) == (0, 100)
    assert viz.frame_window(100, 0.01, (0, 0)) == (0, 100)
    assert viz.frame_window(100, 0.01, (0.5, 0)) == (50, 100)
    lo, hi = viz.frame_window(100, 0.01, (0.2, 0.3))
    assert lo == 20 and 30 <= hi <= 32
    x = np.arange(1001 * 3, dtype=float).reshape(1001, 3)
    pooled, step = viz.pool_time(x, 500)
    assert pooled.shape[0] <= 500 and step == 3
    assert pooled[0, 0] == x[2, 0]  # max over the first window


# ----------------------------------------------------------------------------- ellipse maths
def test_one_sigma_ellipse_of_a_2d_gaussian_has_the_expected_axes():
    cov = _cov(0.6, 2.0, 0.5)
    rng = np.random.default_rng(0)
    x = rng.multivariate_normal([1.0, -2.0], cov, size=20000)
    _, proj = viz.project(x, "pca", 2)  # a rotation (+ shift) of 2-D data
    pc = proj.project_covariance(cov)
    radii, _ = viz.ellipse_axes(pc, 1.0)
    np.testing.assert_allclose(radii, [2.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(viz.ellipse_axes(pc, 2.0)[0], [4.0, 1.0], rtol=1e-6)
    # the drawn curve: farthest / nearest points from the mean are the semi-axes
    mean_p = proj.transform([1.0, -2.0])[0]
    pts = viz.gaussian_ellipse(mean_p, pc, 1.0, n_points=721)
    d = np.linalg.norm(pts - mean_p, axis=1)
    assert d.max() == pytest.approx(2.0, rel=1e-3) and d.min() == pytest.approx(0.5, rel=1e-3)
    # every curve point is at Mahalanobis distance 1, and ~39.3 % of samples fall inside
    inv = np.linalg.inv(pc)
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", pts - mean_p, inv, pts - mean_p), 1.0, rtol=1e-6)
    xp = proj.transform(x) - mean_p
    inside = np.einsum("ni,ij,nj->n", xp, inv, xp) <= 1.0
    assert inside.mean() == pytest.approx(1 - np.exp(-0.5), abs=0.015)


def test_projected_covariance_matches_the_projected_samples():
    rng = np.random.default_rng(2)
    k = 6
    a = rng.normal(size=(k, k))
    cov = a @ a.T + 0.1 * np.eye(k)
    x = rng.multivariate_normal(np.zeros(k), cov, size=40000)
    coords, proj = viz.project(x, "pca", 2)
    np.testing.assert_allclose(proj.project_covariance(cov), np.cov(coords.T), rtol=0.05, atol=0.05)
    m, c = viz.projected_gaussians(proj, np.zeros((1, k)), cov[None])[0]
    assert m.shape == (2,) and c.shape == (2, 2)


def test_ellipsoid_wireframe_lies_on_the_n_sigma_surface():
    cov = np.diag([4.0, 1.0, 0.25])
    pts = viz.gaussian_ellipsoid_wireframe(np.array([1.0, 2.0, 3.0]), cov, n_sigma=2.0)
    ok = ~np.isnan(pts).any(axis=1)
    assert np.isnan(pts).any(axis=1).sum() >= 5  # separate polylines
    d = pts[ok] - [1.0, 2.0, 3.0]
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d), 4.0, rtol=1e-6)


def test_match_attractors_finds_the_permutation():
    ref = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    est = ref[[2, 0, 1]] + 0.1
    perm, d = viz.match_attractors(ref, est)
    np.testing.assert_array_equal(perm, [1, 2, 0])
    np.testing.assert_allclose(d, np.sqrt(0.02))


# ----------------------------------------------------------------------------- figures
@pytest.mark.parametrize("dims", [2, 3])
def test_embedding_figure_with_attractors_anchors_and_gmm(dims):
    v, salient, mag, owner, masks, centers = _tiny_tf()
    cloud = viz.prepare_cloud(v, salient, mag, n_points=400, dims=dims)
    k = v.shape[-1]
    gmm = {"means": centers, "covariances": np.stack([np.eye(k) * 0.25] * 2)}
    fig = viz.embedding_figure(cloud, labels=cloud.take(owner), attractors=centers,
                               anchors=np.concatenate([centers, np.zeros((2, k))]), chosen=np.array([0, 1]), gmm=gmm)
    kinds = {type(t).__name__ for t in fig.data}
    assert ("Scatter3d" in kinds) if dims == 3 else ("Scattergl" in kinds)
    names = [t.name for t in fig.data]
    assert "attractors" in names and "anchors (chosen)" in names and "anchors (not chosen)" in names
    assert sum("GMM" in (n or "") for n in names) == 4  # 2 components x (1, 2 sigma)
    att = next(t for t in fig.data if t.name == "attractors")
    assert len(att.x) == 2
    assert viz.figure_json_size(fig) < 300_000
    # colour by power: one continuous trace
    fig = viz.embedding_figure(cloud, color_by="power")
    assert fig.data[0].marker.colorscale is not None


@pytest.mark.parametrize("dims", [2, 3])
def test_tracked_attractors_are_drawn_as_one_path_per_talker(dims):
    v, salient, mag, owner, masks, centers = _tiny_tf(t=400)
    cloud = viz.prepare_cloud(v, salient, mag, n_points=400, dims=dims)
    drift = np.linspace(0, 1, v.shape[0])[None, :, None] * np.ones((2, 1, v.shape[-1]))
    tracks = (centers[:, None, :] + drift).astype(np.float32)  # (C, T, K): both attractors move
    fig = viz.embedding_figure(cloud, labels=cloud.take(owner), attractors=centers, tracks=tracks)
    paths = [t for t in fig.data if (t.name or "").startswith("path of attractor")]
    assert len(paths) == 2 and 2 <= len(paths[0].x) <= 40 and not any(t.showlegend for t in paths)
    assert sum(t.name == "attractor paths" for t in fig.data) == 1  # one legend entry
    lo = int(cloud.frame.min())
    w = (int(cloud.frame.max()) + 1 - lo) / 40
    start = cloud.projector.transform(tracks[:, lo: lo + max(1, round(w))].mean(1))  # first window's mean
    np.testing.assert_allclose([paths[0].x[0], paths[0].y[0]], start[0, :2], rtol=1e-3, atol=1e-3)
    assert "attractor paths" not in [t.name for t in viz.embedding_figure(cloud, labels=cloud.take(owner)).data]


def test_spectrogram_and_mask_figures_are_decimated_and_small():
    rng = np.random.default_rng(0)
    t, f = 7500, 129  # 60 s at an 8 ms hop
    mag = np.abs(rng.normal(size=(t, f))).astype(np.float32)
    masks = rng.dirichlet([1, 1, 1], size=(t, f)).transpose(2, 0, 1).astype(np.float32)
    spec = viz.spectrogram_figure([("mixture", mag)] + [(f"voice {i}", mag * masks[i]) for i in range(3)])
    assert len(spec.data) == 4
    assert all(np.asarray(h.z).shape == (f, viz.MAX_COLUMNS) for h in spec.data)
    mfig = viz.masks_figure(masks, mag=mag)
    assert len(mfig.data) == 4  # composite + 3 masks
    assert viz.check_figure_size(spec) < 1_500_000 and viz.check_figure_size(mfig) < 1_500_000
    cropped = viz.spectrogram_figure([("mixture", mag)], time_range=(1.0, 2.0))
    x = np.asarray(cropped.data[0].x)
    assert x.min() >= 0.99 and x.max() <= 2.01


def test_payload_helper_and_the_largest_cloud():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    assert viz.figure_json_size(fig) == len(fig.to_json())
    with pytest.raises(ValueError, match="MB"):
        viz.check_figure_size(fig, limit=10)
    v, salient, mag, owner, *_ = _tiny_tf(t=800, f=129, k=20)
    cloud = viz.prepare_cloud(v, salient, mag, n_points=viz.MAX_POINTS, dims=3)
    assert len(cloud.index) == viz.MAX_POINTS
    big = viz.embedding_figure(cloud, labels=cloud.take(owner))
    assert viz.check_figure_size(big) < viz.MAX_FIGURE_BYTES


def test_compare_mismatch_atlas_and_teaching_figures():
    v, salient, mag, owner, masks, centers = _tiny_tf()
    for dims in (2, 3):
        cloud = viz.prepare_cloud(v, salient, mag, n_points=300, dims=dims)
        items = [viz.CompareItem("kmeans", cloud.take(owner), centers, masks, score=3.2),
                 viz.CompareItem("gmm", cloud.take(owner), centers + 0.1, masks,
                                 gmm={"means": centers, "covariances": np.stack([np.eye(6)] * 2)})]
        grid = viz.compare_figure(cloud, items, mag)
        assert sum(isinstance(t, go.Heatmap) for t in grid.data) == 2
        assert viz.figure_json_size(grid) < 1_000_000
        fig, dist = viz.center_mismatch_figure(cloud, centers, {"kmeans": centers[::-1] + 0.2, "gmm": centers},
                                               true_labels=cloud.take(owner))
        assert dist["gmm"] == pytest.approx(0.0, abs=1e-9)
        assert dist["kmeans"] == pytest.approx(0.2 * np.sqrt(6), rel=1e-5)  # matched despite the swap
    atlas, proj = viz.attractor_atlas_figure(
        [viz.AtlasItem(f"mix{i}", np.random.default_rng(i).normal(size=(2, 6)), ["female", "male"]) for i in range(5)])
    assert {t.name for t in atlas.data} >= {"female", "male", "same mixture"}
    figs = viz.toy_figures()
    assert set(figs) == {"embedding", "attractor", "anchors", "gmm", "mask"}
    assert all(viz.figure_json_size(f) < 200_000 for f in figs.values())


# ----------------------------------------------------------------------------- visual defects (issue 26, item 6)
def test_paths_and_attractors_lie_above_the_bins_thin_with_their_own_legend_entries():
    v, salient, mag, owner, masks, centers = _tiny_tf(t=400)
    cloud = viz.prepare_cloud(v, salient, mag, n_points=400)
    rng = np.random.default_rng(0)
    tracks = (centers[:, None, :] + rng.normal(size=(2, v.shape[0], v.shape[-1])) * 0.8).astype(np.float32)
    k = v.shape[-1]
    fig = viz.embedding_figure(cloud, labels=cloud.take(owner), attractors=centers, tracks=tracks,
                               gmm={"means": centers, "covariances": np.stack([np.eye(k) * 0.25] * 2)})
    names = [t.name for t in fig.data]
    last_bins = max(i for i, n in enumerate(names) if n.startswith("voice"))
    paths = [i for i, n in enumerate(names) if n.startswith("path of attractor")]
    att = names.index("attractors")
    # every 2-D trace is WebGL (plotly draws WebGL above SVG whatever the order), and the order puts
    # bins < paths < attractors
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    assert last_bins < min(paths) and max(paths) < att
    # thin, translucent, simplified (window means: far less jitter than the raw frames)
    for i in paths:
        tr = fig.data[i]
        assert tr.line.width <= 1.6 and tr.opacity <= 0.6 and len(tr.x) <= 40
    raw = cloud.projector.transform(tracks[0])
    drawn = np.stack([fig.data[paths[0]].x, fig.data[paths[0]].y], 1)
    assert np.abs(np.diff(drawn, axis=0)).mean() < 0.5 * np.abs(np.diff(raw, axis=0)).mean()
    # legend: one entry each, in different colours
    shown = [t for t in fig.data if t.showlegend is not False]
    entry = {t.name: t for t in shown}
    assert "attractor paths" in entry and "attractors" in entry
    assert sum(t.name == "attractor paths" for t in shown) == 1
    first_att_color = np.atleast_1d(entry["attractors"].marker.color)[0]
    assert entry["attractor paths"].line.color not in (first_att_color, *viz.VOICE_COLORS)


def test_center_mismatch_spreads_the_centres_and_leaves_out_absent_ones():
    rng = np.random.default_rng(0)
    k = 12
    # bins vary most along dims 0-1; the centres differ along dims 5-6 (as DANet's do: small, elsewhere)
    pts = rng.normal(size=(600, k)) * np.r_[3.0, 3.0, np.full(k - 2, 0.1)]
    ideal = np.zeros((2, k))
    ideal[0, 5], ideal[1, 5] = 1.0, -1.0
    est = {"k-means": ideal + np.eye(k)[6] * 0.5, "broken": np.zeros((2, k)), "none": np.empty((0, k))}
    coords, proj = viz.project(pts, "pca", 2)
    cloud = viz.Cloud(coords, np.arange(600), (600, 1), np.zeros(600, np.float32), proj, n_candidates=600)
    old, _ = viz.center_mismatch_figure(cloud, ideal, est)
    fig, dist = viz.center_mismatch_figure(cloud, ideal, est, points=pts)
    assert set(dist) == {"k-means"}
    assert not any("broken" in (t.name or "") or "none" in (t.name or "") for t in fig.data)
    star = next(t for t in fig.data if t.name == "ideal (oracle)")
    spread = np.hypot(np.diff(star.x), np.diff(star.y))[0]
    assert spread == pytest.approx(2.0, rel=1e-3)  # the real distance between the ideal centres
    old_star = next(t for t in old.data if t.name == "ideal (oracle)")
    assert np.hypot(np.diff(old_star.x), np.diff(old_star.y))[0] < 0.5  # the pile the bins' axes gave
    km = next(t for t in fig.data if t.name.startswith("k-means (mean dist"))
    assert np.hypot(np.asarray(km.x) - star.x, np.asarray(km.y) - star.y) == pytest.approx([0.5, 0.5], rel=1e-3)
    names = [t.name for t in fig.data]
    assert names.index("k-means offset") < names.index("ideal (oracle)") < names.index("k-means (mean dist 0.50)")


def test_mask_colour_bars_sit_in_the_margin_beside_their_own_panel_and_ticks_do_not_collide():
    v, salient, mag, owner, masks, centers = _tiny_tf(t=100, f=129)
    fig = viz.masks_figure(masks, mag=mag)
    bars = [t for t in fig.data if t.showscale]
    assert len(bars) == 2  # one per voice, none over a panel
    for r, t in enumerate(bars, 2):
        d0, d1 = fig.layout[f"yaxis{r}"].domain
        assert t.colorbar.x >= 1.0 and t.colorbar.xanchor == "left"
        assert d0 <= t.colorbar.y - t.colorbar.len / 2 and t.colorbar.y + t.colorbar.len / 2 <= d1
    assert fig.layout.margin.r >= 60
    top_hz = 128 * 31.25
    for fig in (fig, viz.spectrogram_figure([("mix", mag), ("voice", mag)]), viz.toy_figures()["mask"]):
        axes = [fig.layout[a] for a in fig.layout if a.startswith("yaxis")]
        assert len(axes) >= 2
        for ax in axes:  # no tick label at a panel's top edge, where the panel above has its "0"
            assert ax.tickvals[0] == 0 and max(ax.tickvals) <= top_hz - 500


def test_teaching_anchors_have_a_visible_marker_and_the_atlas_title_clears_the_toolbar():
    fig = viz.toy_figures()["anchors"]
    for name in ("anchors (not chosen)", "anchors (chosen)"):
        m = next(t for t in fig.data if t.name == name).marker
        assert "rgba(0,0,0,0)" not in str(m.color)  # open symbols stroke in marker.color
    atlas, _ = viz.attractor_atlas_figure(
        [viz.AtlasItem(f"mix{i}", np.random.default_rng(i).normal(size=(2, 6)), ["female", "male"]) for i in range(5)])
    assert atlas.layout.title.yref == "container" and atlas.layout.title.pad.t >= 40
    assert atlas.layout.margin.t >= 90


# ----------------------------------------------------------------------------- UMAP
@pytest.mark.skipif(importlib.util.find_spec("umap") is None, reason="umap-learn is not installed")
def test_umap_path_on_small_data_places_attractors_and_skips_ellipses():
    rng = np.random.default_rng(0)
    k = 5
    centers = np.array([[3.0] * k, [-3.0] * k])
    x = np.concatenate([rng.normal(size=(150, k)) + centers[0], rng.normal(size=(150, k)) + centers[1]])
    coords, proj = viz.project(x, "umap", 2, seed=0, n_epochs=30)
    assert coords.shape == (300, 2) and np.isfinite(coords).all()
    att = proj.transform(centers)
    assert att.shape == (2, 2)
    # each attractor lands among its own cluster's points
    for i in range(2):
        own = coords[i * 150:(i + 1) * 150].mean(0)
        other = coords[(1 - i) * 150:(2 - i) * 150].mean(0)
        assert np.linalg.norm(att[i] - own) < np.linalg.norm(att[i] - other)
    with pytest.raises(ValueError):
        proj.project_covariance(np.eye(k))
    cloud = viz.Cloud(coords, np.arange(300), (300, 1), np.zeros(300, np.float32), proj, n_candidates=300)
    fig = viz.embedding_figure(cloud, labels=np.repeat([0, 1], 150), attractors=centers,
                               gmm={"means": centers, "covariances": np.stack([np.eye(k)] * 2)})
    assert not any("GMM" in (t.name or "") for t in fig.data)
    assert any("not drawn for UMAP" in a.text for a in fig.layout.annotations)
    with pytest.raises(ValueError, match="limited"):
        viz.fit_umap(np.zeros((viz.UMAP_MAX_POINTS + 1, 3)))


def test_center_mismatch_zooms_on_the_centres():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(400, 6)) * 3
    ideal = np.eye(6)[:2] * 0.3
    coords, proj = viz.project(pts, "pca", 2)
    cloud = viz.Cloud(coords, np.arange(400), (400, 1), np.zeros(400, np.float32), proj, n_candidates=400)
    fig, _ = viz.center_mismatch_figure(cloud, ideal, {"k-means": ideal + 0.05}, points=pts)
    xr = fig.layout.xaxis.range
    star = next(t for t in fig.data if t.name == "ideal (oracle)")
    assert xr is not None and xr[0] < min(star.x) and max(star.x) < xr[1]
    assert xr[1] - xr[0] < 0.5 * (np.ptp(fig.data[0].x))  # tighter than the bins
