"""Attractor maths and the training objectives, each checked against a direct (loop / numpy) formula."""
import itertools

import numpy as np
import pytest
import torch

from _synth import tiny_danet
from sepviz.danet import (DANetConfig, anchor_attractors, anchor_subsets, ideal_attractors, masks_from_attractors,
                          similarity)
from sepviz.losses import (danet_loss, deep_clustering_loss, masked_reconstruction_error,
                           negative_si_snr, pit_reconstruction_loss, upit_discriminative_loss)
from sepviz.masks import ideal_binary_mask, wiener_filter_mask
from sepviz.pit import PITLossWrapper, pit_min_permutation

B, T, F, K = 2, 4, 129, 5


def rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def problem(c=2, seed=0, dtype=torch.float64):
    """Embeddings, mixture magnitude, WFM targets, one-hot IBM assignment and binary salient weights."""
    src = torch.complex(rand(B, c, T, F, seed=seed, dtype=dtype), rand(B, c, T, F, seed=seed + 1, dtype=dtype))
    mix_mag = src.sum(1).abs()
    v = rand(B, T, F, K, seed=seed + 2, dtype=dtype)
    w = (torch.rand(B, T, F, generator=torch.Generator().manual_seed(seed + 3)) > 0.2).to(dtype)
    return v, mix_mag, wiener_filter_mask(src), ideal_binary_mask(src), w, src.abs()


# --------------------------------------------------------------------------- attractors and masks


def loop_ideal_attractors(v, y, w):
    v, y, w = v.numpy(), y.numpy(), w.numpy()
    b_, c_ = y.shape[:2]
    out = np.zeros((b_, c_, v.shape[-1]))
    for b in range(b_):
        for c in range(c_):
            num, den = np.zeros(v.shape[-1]), 0.0
            for t in range(v.shape[1]):
                for f in range(v.shape[2]):
                    num += y[b, c, t, f] * w[b, t, f] * v[b, t, f]
                    den += y[b, c, t, f] * w[b, t, f]
            out[b, c] = num / (den + 1e-8)
    return out


@pytest.mark.parametrize("soft", [False, True])
def test_ideal_attractors_match_a_loop(soft):
    v, _, wfm, ibm, w, _ = problem(c=3)
    y = wfm if soft else ibm
    att = ideal_attractors(v, y, w)
    assert att.shape == (B, 3, K)
    np.testing.assert_allclose(att.numpy(), loop_ideal_attractors(v, y, w), rtol=1e-9, atol=1e-12)
    # Flat embeddings (B, N, K) give the same thing; no weights means all ones.
    torch.testing.assert_close(ideal_attractors(v.reshape(B, -1, K), y, w), att)
    torch.testing.assert_close(ideal_attractors(v, y), ideal_attractors(v, y, torch.ones_like(w)))


def test_ideal_attractor_of_an_absent_speaker_is_zero_not_nan():
    v, _, _, ibm, w, _ = problem(c=3)
    ibm[:, 2] = 0
    att = ideal_attractors(v, ibm, w)
    assert torch.isfinite(att).all() and att[:, 2].abs().max() == 0


def test_similarity_flat_and_4d_agree():
    v = rand(B, T, F, K)
    a = rand(B, 3, K, seed=5)
    s4 = similarity(v, a)
    assert s4.shape == (B, 3, T, F)
    torch.testing.assert_close(s4.reshape(B, 3, -1), similarity(v.reshape(B, -1, K), a))
    torch.testing.assert_close(s4[1, 2, 3, 7], v[1, 3, 7] @ a[1, 2])


def test_masks_from_attractors_softmax_and_sigmoid():
    v, a = rand(B, T, F, K), rand(B, 3, K, seed=1)
    soft = masks_from_attractors(v, a, "softmax")
    assert soft.shape == (B, 3, T, F)
    torch.testing.assert_close(soft.sum(1), torch.ones(B, T, F, dtype=soft.dtype))
    sig = masks_from_attractors(v, a, "sigmoid")
    assert ((sig > 0) & (sig < 1)).all()
    torch.testing.assert_close(sig, torch.sigmoid(torch.einsum("btfk,bck->bctf", v, a)))
    with pytest.raises(ValueError, match="mask kind"):
        masks_from_attractors(v, a, "relu")


def loop_anchor_choice(v, anchors, c, w):
    """Direct ADANet rule: for each subset, soft-assign, form centroids, take the max off-diagonal dot."""
    v, anchors, w = v.reshape(-1, v.shape[-1]).numpy(), anchors.numpy(), w.reshape(-1).numpy()
    scores, atts = [], []
    for sub in itertools.combinations(range(len(anchors)), c):
        logits = v @ anchors[list(sub)].T  # (N, C)
        y = np.exp(logits - logits.max(1, keepdims=True))
        y = y / y.sum(1, keepdims=True) * w[:, None]
        att = (y.T @ v) / (y.sum(0)[:, None] + 1e-8)
        gram = att @ att.T
        scores.append(max(gram[i, j] for i in range(c) for j in range(c) if i != j))
        atts.append(att)
    best = int(np.argmin(scores))
    return best, atts[best], np.array(scores)


def test_anchor_attractors_pick_the_known_most_distinct_subset():
    # Bins cluster at 2*e1 and 2*e2; anchors 0 and 2 point at the clusters, anchor 1 sits between.
    e1, e2 = torch.tensor([2.0, 0, 0]), torch.tensor([0, 2.0, 0])
    v = torch.stack([e1] * 50 + [e2] * 50).reshape(1, 10, 10, 3).double()
    anchors = torch.tensor([[1.0, 0, 0], [0.7, 0.7, 0], [0, 1.0, 0]]).double()
    att, chosen, in_set = anchor_attractors(v, anchors, 2)
    assert chosen.tolist() == [[0, 2]]
    assert in_set.shape == (1, 3) and int(in_set.argmin()) == anchor_subsets(3, 2).index((0, 2))
    # The chosen attractors lie mostly on their own cluster.
    assert att[0, 0, 0] > 1.5 and att[0, 1, 1] > 1.5


@pytest.mark.parametrize("c,n_anchors", [(2, 4), (3, 5), (2, 2)])
def test_anchor_attractors_match_a_loop(c, n_anchors):
    v, _, _, _, w, _ = problem()
    anchors = rand(n_anchors, K, seed=9)
    att, chosen, in_set = anchor_attractors(v, anchors, c, w)
    assert att.shape == (B, c, K) and chosen.shape == (B, c) and in_set.shape == (B, len(anchor_subsets(n_anchors, c)))
    for b in range(B):
        best, best_att, scores = loop_anchor_choice(v[b], anchors, c, w[b])
        np.testing.assert_allclose(in_set[b].numpy(), scores, rtol=1e-9)
        assert chosen[b].tolist() == list(anchor_subsets(n_anchors, c)[best])
        np.testing.assert_allclose(att[b].numpy(), best_att, rtol=1e-7, atol=1e-9)


def test_anchor_attractors_need_enough_anchors():
    with pytest.raises(ValueError, match="3 attractors from 2 anchors"):
        anchor_attractors(rand(1, T, F, K), rand(2, K), 3)


def test_anchor_attractors_ignore_non_salient_bins():
    v, _, _, _, w, _ = problem()
    anchors = rand(4, K, seed=3)
    v2 = v.clone()
    v2[w == 0] = 100.0  # huge outliers, but not salient
    a1, c1, _ = anchor_attractors(v, anchors, 2, w)
    a2, c2, _ = anchor_attractors(v2, anchors, 2, w)
    # Outliers change the soft assignment of nothing salient, so the chosen attractors are the same.
    assert torch.equal(c1, c2)
    torch.testing.assert_close(a1, a2)


# --------------------------------------------------------------------------- DANet / deep clustering losses


@pytest.mark.parametrize("mask", ["softmax", "sigmoid"])
def test_danet_loss_matches_direct_formula(mask):
    v, mix, wfm, ibm, w, _ = problem(c=2)
    loss = danet_loss(v, mix, wfm, ibm, w, mask)
    att = loop_ideal_attractors(v, ibm, w)
    vn, mixn, wfmn = v.numpy(), mix.numpy(), wfm.numpy()
    total = 0.0
    for b in range(B):
        sim = np.einsum("tfk,ck->ctf", vn[b], att[b])
        est = np.exp(sim) / np.exp(sim).sum(0, keepdims=True) if mask == "softmax" else 1 / (1 + np.exp(-sim))
        total += sum(np.mean((mixn[b] * (wfmn[b, c] - est[c])) ** 2) for c in range(2))
    assert loss.shape == () and float(loss) == pytest.approx(total / B, rel=1e-9)


def test_danet_loss_is_zero_for_perfect_embeddings():
    """If every bin embeds exactly onto its speaker's attractor direction with a big norm, the
    softmax masks are the IBM, which equals the target when the target is the IBM."""
    _, mix, _, ibm, w, _ = problem(c=2)
    v = 30.0 * torch.stack([ibm[:, 0] - ibm[:, 1], ibm[:, 1] - ibm[:, 0]], -1)  # (B, T, F, 2)
    assert float(danet_loss(v, mix, ibm, ibm, w)) < 1e-12


@pytest.mark.parametrize("weighted", [False, True])
def test_deep_clustering_loss_equals_the_explicit_affinity_formula(weighted):
    v, _, _, ibm, w, _ = problem(c=3)
    v = v[:, :2]  # N = 2 * 129 bins, N x N affinities are cheap
    ibm, w = ibm[:, :, :2], w[:, :2]
    loss = deep_clustering_loss(v, ibm, w if weighted else None)
    expected = 0.0
    for b in range(B):
        vv = v[b].reshape(-1, K).numpy()
        yy = ibm[b].reshape(3, -1).T.numpy()
        ww = w[b].reshape(-1).numpy() if weighted else np.ones(len(vv))
        diff = vv @ vv.T - yy @ yy.T
        expected += (np.outer(ww, ww) * diff ** 2).sum() / ww.sum() ** 2
    assert float(loss) == pytest.approx(expected / B, rel=1e-9)


def test_deep_clustering_loss_is_zero_for_one_hot_embeddings():
    _, _, _, ibm, w, _ = problem(c=2)
    v = ibm.permute(0, 2, 3, 1)  # V = Y
    assert float(deep_clustering_loss(v, ibm, w)) < 1e-12


# --------------------------------------------------------------------------- PIT


def test_pit_min_permutation_finds_the_cheapest_matching():
    pairwise = torch.tensor([[[5.0, 1.0, 9.0], [1.0, 7.0, 9.0], [9.0, 9.0, 0.5]],
                             [[0.0, 3.0, 3.0], [3.0, 0.0, 3.0], [3.0, 3.0, 0.0]]])
    loss, perm = pit_min_permutation(pairwise)
    assert perm.tolist() == [[1, 0, 2], [0, 1, 2]]
    torch.testing.assert_close(loss, torch.tensor([2.5, 0.0]))
    for b in range(2):  # brute force agrees
        assert float(loss[b]) == min(sum(float(pairwise[b, i, p[i]]) for i in range(3))
                                     for p in itertools.permutations(range(3)))


def test_pit_loss_wrapper_is_the_mean_least_total_of_a_pairwise_loss():
    est, ref = rand(B, 3, 50, seed=1), rand(B, 3, 50, seed=2)
    pairwise = lambda e, r: ((e.unsqueeze(2) - r.unsqueeze(1)) ** 2).mean(-1)  # noqa: E731
    loss, perm = PITLossWrapper(pairwise)(est, ref[:, [2, 0, 1]], return_perm=True)
    torch.testing.assert_close(loss, pit_min_permutation(pairwise(est, ref[:, [2, 0, 1]]))[0].mean())
    torch.testing.assert_close(PITLossWrapper(pairwise)(est[:, [1, 2, 0]], ref), loss)
    assert perm.shape == (B, 3)


@pytest.mark.parametrize("c", [2, 3])
def test_pit_reconstruction_loss_is_invariant_to_swapping_sources(c):
    _, mix, wfm, _, _, _ = problem(c=c)
    est = torch.softmax(rand(B, c, T, F, seed=7), 1)
    base = pit_reconstruction_loss(mix, wfm, est)
    for perm in itertools.permutations(range(c)):
        torch.testing.assert_close(pit_reconstruction_loss(mix, wfm, est[:, list(perm)]), base)
        torch.testing.assert_close(pit_reconstruction_loss(mix, wfm[:, list(perm)], est), base)
    # ... and zero when the estimates are the targets in any order.
    assert float(pit_reconstruction_loss(mix, wfm, wfm.flip(1))) < 1e-20


def test_masked_reconstruction_error_matches_loops():
    _, mix, wfm, _, _, _ = problem(c=3)
    est = torch.softmax(rand(B, 3, T, F, seed=7), 1)
    pair = masked_reconstruction_error(mix, wfm, est)
    assert pair.shape == (B, 3, 3)
    for b, i, j in itertools.product(range(B), range(3), range(3)):
        assert float(pair[b, i, j]) == pytest.approx(float(((mix[b] * (wfm[b, j] - est[b, i])) ** 2).mean()))


@pytest.mark.parametrize("c", [2, 3])
def test_upit_discriminative_loss_matches_direct_formula(c):
    _, mix, _, _, _, src_mag = problem(c=c)
    est = torch.softmax(rand(B, c, T, F, seed=8), 1)
    lam = 0.1
    loss = upit_discriminative_loss(mix, src_mag, est, lam)
    total = 0.0
    for b in range(B):
        outs = (mix[b] * est[b]).numpy()
        refs = src_mag[b].numpy()
        err = np.array([[np.mean((outs[i] - refs[j]) ** 2) for j in range(c)] for i in range(c)])
        best = min(itertools.permutations(range(c)), key=lambda p: sum(err[i, p[i]] for i in range(c)))
        matched = sum(err[i, best[i]] for i in range(c))
        others = sum(err[i, j] for i in range(c) for j in range(c) if j != best[i])
        total += matched - lam * others / (c - 1)
    assert float(loss) == pytest.approx(total / B, rel=1e-9)
    perm = list(reversed(range(c)))
    torch.testing.assert_close(upit_discriminative_loss(mix, src_mag[:, perm], est, lam), loss)
    assert float(upit_discriminative_loss(mix, src_mag, est, 0.0)) > float(loss)  # the term is subtracted


# --------------------------------------------------------------------------- 3 speakers, gradients


def all_losses(v, mix, wfm, ibm, w, src_mag, anchors, head):
    est_anchor = masks_from_attractors(v, anchor_attractors(v, anchors, ibm.shape[1], w)[0])
    return {
        "danet": danet_loss(v, mix, wfm, ibm, w),
        "danet_sigmoid": danet_loss(v, mix, wfm, ibm, w, "sigmoid"),
        "dpcl": deep_clustering_loss(v, ibm, w),
        "adanet_pit": pit_reconstruction_loss(mix, wfm, est_anchor),
        "upit": upit_discriminative_loss(mix, src_mag, torch.softmax(head(v), -1).permute(0, 3, 1, 2)),
    }


@pytest.mark.parametrize("absent", [False, True])
def test_three_speakers_with_an_all_zero_auxiliary_target_give_finite_losses_and_gradients(absent):
    torch.manual_seed(0)
    src = torch.complex(rand(B, 3, T, F, dtype=torch.float32), rand(B, 3, T, F, seed=1, dtype=torch.float32))
    if absent:
        src[0, 2] = 0  # utterance 0 has only two talkers: the third target is all zero
    mix = src.sum(1).abs()
    silent = src.abs().amax((-1, -2)) == 0
    ibm = ideal_binary_mask(src).masked_fill(silent[..., None, None], 0.0)
    wfm = wiener_filter_mask(src)
    w = torch.ones(B, T, F)
    v = rand(B, T, F, K, seed=2, dtype=torch.float32).requires_grad_()
    anchors = rand(6, K, seed=3, dtype=torch.float32).requires_grad_()
    head = torch.nn.Linear(K, 3)
    for name, loss in all_losses(v, mix, wfm, ibm, w, src.abs(), anchors, head).items():
        assert torch.isfinite(loss), name
        gv, = torch.autograd.grad(loss, v, retain_graph=True)
        assert torch.isfinite(gv).all() and gv.abs().sum() > 0, name
    loss = all_losses(v, mix, wfm, ibm, w, src.abs(), anchors, head)["adanet_pit"]
    ga, = torch.autograd.grad(loss, anchors)
    assert torch.isfinite(ga).all() and ga.abs().sum() > 0  # the anchors are trainable


def test_gradients_flow_through_a_model_for_every_objective():
    for objective, extra in [("danet", {}), ("adanet", {"n_anchors": 4}), ("dpcl", {}), ("upit", {})]:
        model = tiny_danet(objective=objective, **extra).train()
        v0, mix, wfm, ibm, w, src_mag = problem(c=2, dtype=torch.float32)
        feats = torch.log(mix + 1e-8)
        v = model(feats)
        if objective == "danet":
            loss = danet_loss(v, mix, wfm, ibm, w)
        elif objective == "adanet":
            loss = pit_reconstruction_loss(mix, wfm, masks_from_attractors(v, anchor_attractors(v, model.anchors, 2, w)[0]))
        elif objective == "dpcl":
            loss = deep_clustering_loss(v, ibm, w)
        else:
            loss = deep_clustering_loss(v, ibm, w) + upit_discriminative_loss(mix, src_mag, model.head_masks(v))
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters() if n != "fixed_attractors"}
        assert all(g is not None and torch.isfinite(g).all() for g in grads.values()), objective
        assert sum(float(g.abs().sum()) for g in grads.values()) > 0


# --------------------------------------------------------------------------- the DANet module


def test_danet_module_parts():
    m = tiny_danet(objective="upit", n_speakers=3)
    assert m.anchors is None and m.mask_head is not None and not m.has_fixed_attractors
    v = m(torch.randn(2, 5, 129))
    masks = m.head_masks(v)
    assert masks.shape == (2, 3, 5, 129)
    torch.testing.assert_close(masks.sum(1), torch.ones(2, 5, 129))
    m.fixed_attractors[0, 0] = 1.0
    assert m.has_fixed_attractors and m.fixed_attractors.shape == (3, m.emb_dim)
    a = tiny_danet(objective="adanet", n_anchors=6)
    assert a.anchors.shape == (6, a.emb_dim) and a.mask_head is None
    with pytest.raises(ValueError, match="no mask head"):
        a.head_masks(v)


@pytest.mark.parametrize("field,value", [("objective", "gan"), ("mask", "relu")])
def test_danet_config_is_validated(field, value):
    with pytest.raises(ValueError, match=value):
        tiny_danet(**{field: value})


def test_danet_config_round_trip_ignores_unknown_keys():
    cfg = DANetConfig(model="bgru", model_kwargs={"hidden": 4}, objective="adanet", n_anchors=6, stft={"n_fft": 256})
    assert DANetConfig.from_dict({**cfg.to_dict(), "future_field": 1}) == cfg


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_losses_on_the_gpu_match_the_cpu():
    v, mix, wfm, ibm, w, src_mag = problem(c=3, dtype=torch.float32)
    anchors = rand(5, K, seed=3, dtype=torch.float32)
    head = torch.nn.Linear(K, 3)
    cpu = all_losses(v, mix, wfm, ibm, w, src_mag, anchors, head)
    cuda = all_losses(*(x.cuda() for x in (v, mix, wfm, ibm, w, src_mag, anchors)), head.cuda())
    for name in cpu:
        assert float(cuda[name]) == pytest.approx(float(cpu[name]), rel=1e-4), name


# --------------------------------------------------------------------------- waveform (SI-SNR) loss


def test_negative_si_snr_matches_the_metric_and_skips_absent_talkers():
    from sepviz.metrics import si_snr

    ref = rand(2, 3, 800, seed=5)
    est = ref + 0.3 * rand(2, 3, 800, seed=6) + 0.1  # an offset: SI-SNR removes the mean
    expected = np.array([[si_snr(est[b, c].numpy(), ref[b, c].numpy()) for c in range(3)] for b in range(2)])
    torch.testing.assert_close(negative_si_snr(est, ref), torch.tensor(-expected.mean(), dtype=est.dtype))
    torch.testing.assert_close(negative_si_snr(3.0 * est, ref), negative_si_snr(est, ref))  # scale-invariant
    present = torch.tensor([[True, True, False], [True, True, True]])
    want = -(expected[0, :2].mean() + expected[1].mean()) / 2
    torch.testing.assert_close(negative_si_snr(est, ref, present), torch.tensor(want, dtype=est.dtype))
