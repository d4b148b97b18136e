"""The trainer runs every objective end to end on tiny tone mixtures and writes loadable checkpoints."""
import math

import numpy as np
import pytest
import torch

from sepviz.checkpoint import load_checkpoint
from training.config import RECIPES_DIR, load_recipe
from training.trainer import Trainer, fixed_attractors_from
from _synth import ToneMixes

RECIPES = sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def test_every_recipe_has_a_cpu_profile_and_paper_config():
    assert {"danet_blstm", "danet_bgru_gmm", "adanet_blstm", "danet_dilated_cnn", "dpcl_blstm", "def_upit"} <= set(RECIPES)
    for name in RECIPES:
        full, cpu = load_recipe(name), load_recipe(name, "cpu")
        # the papers' 100-frame chunks; the thesis's adaptive front-end: 10240 and 20480 samples
        first = {"adapt_dpcl": 160, "adapt_pretrain": 320}.get(name, 100)
        assert cpu.max_minutes > 0 and full.curriculum[0][0] == first
        if full.model in ("blstm", "bgru"):
            assert full.model_kwargs["hidden"] == 600 and full.model_kwargs["layers"] == 4
    assert load_recipe("adanet_blstm").n_anchors == 6


@pytest.mark.parametrize("recipe", ["danet_blstm", "adanet_blstm", "dpcl_blstm", "def_upit", "danet_dilated_cnn",
                                    "danet_blstm_3spk"])
def test_trainer_writes_a_checkpoint_that_separates(recipe, tmp_path):
    cfg = load_recipe(recipe, "cpu", {"curriculum": [[10, 1], [20, 1]], "batch_size": 2})
    tiny = {"channels": 4, "layers": 5} if cfg.model == "dilated_cnn" else {"hidden": 8, "layers": 1}
    cfg.model_kwargs = {**{k: v for k, v in cfg.model_kwargs.items() if k in ("emb_dim", "activation")}, **tiny}
    c = max(cfg.data.n_speakers)
    trainer = Trainer(cfg, tmp_path / "m.pt", ToneMixes(4, c), ToneMixes(2, c))
    path = trainer.fit()
    model = load_checkpoint(path)
    assert model.config.objective == cfg.objective and model.config.n_speakers == c
    assert model.has_fixed_attractors and model.fixed_attractors.shape == (c, 20)
    assert model.card["training"]["steps"] == 4 and len(trainer.history) == 2
    assert all(math.isfinite(h["valid_loss"]) for h in trainer.history)
    assert (model.anchors is not None) == (cfg.objective == "adanet")


def test_training_reduces_the_danet_loss(tmp_path):
    cfg = load_recipe("danet_blstm", "cpu", {"curriculum": [[20, 6]], "batch_size": 4, "lr": 3e-3})
    cfg.model_kwargs = {"hidden": 16, "layers": 1, "emb_dim": 8}
    trainer = Trainer(cfg, tmp_path / "m.pt", ToneMixes(16), ToneMixes(8))
    first, _ = trainer.validate()
    trainer.fit()
    assert trainer.best_val < 0.8 * first


def test_resume_continues_from_saved_state(tmp_path):
    cfg = load_recipe("danet_blstm", "cpu", {"curriculum": [[10, 2]], "batch_size": 2})
    cfg.model_kwargs = {"hidden": 8, "layers": 1}
    t1 = Trainer(cfg, tmp_path / "m.pt", ToneMixes(4), ToneMixes(2))
    t1.fit()
    cfg.curriculum = [[10, 3]]
    t2 = Trainer(cfg, tmp_path / "m.pt", ToneMixes(4), ToneMixes(2))
    assert t2.try_resume() and t2.global_epoch == 2
    t2.fit()
    assert t2.global_epoch == 3 and t2.steps == 6


def test_fixed_attractors_are_cluster_centres_not_slot_means():
    a, b = torch.full((20,), 1.0), torch.full((20,), -1.0)
    # speaker order is random per mixture: slot means would both be ~0
    atts = torch.stack([torch.stack([a, b]) if i % 2 else torch.stack([b, a]) for i in range(10)])
    centres = fixed_attractors_from(atts, 2)
    assert sorted(round(float(c.mean())) for c in centres) == [-1, 1]


def test_warm_start_copies_the_net_and_keeps_per_speaker_tensors(tmp_path):
    cfg = load_recipe("danet_blstm", "cpu", {"curriculum": [[10, 1]], "batch_size": 2})
    cfg.model_kwargs = {"hidden": 8, "layers": 1}
    two = Trainer(cfg, tmp_path / "two.pt", ToneMixes(4), ToneMixes(2)).fit()
    three = load_recipe("danet_blstm_3spk", "cpu", {"curriculum": [[10, 1]], "batch_size": 2,
                                                    "init_from": str(two), "seed": 1})
    three.model_kwargs = {"hidden": 8, "layers": 1}
    t = Trainer(three, tmp_path / "three.pt", ToneMixes(4, 3), ToneMixes(2, 3))
    src = load_checkpoint(two).state_dict()
    for k, v in t.model.state_dict().items():
        if k.startswith("net."):
            assert torch.equal(v, src[k].to(v.dtype)), k
    assert t.model.fixed_attractors.shape == (3, 20)
    cfg.model_kwargs = {"hidden": 9, "layers": 1}
    cfg.init_from = str(two)
    with pytest.raises(ValueError, match="do not match"):
        Trainer(cfg, tmp_path / "bad.pt", ToneMixes(4), ToneMixes(2))


def test_auxiliary_clustering_term_is_added_to_the_danet_loss():
    from sepviz.checkpoint import build_danet
    from sepviz.danet import DANetConfig
    from training.objectives import batch_loss, make_batch
    from sepviz.features import StftConfig

    model = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1}))
    mix, src = ToneMixes(2)[0]
    b = make_batch(mix[None], src[None], StftConfig(), 0.9)
    torch.manual_seed(0)
    model.eval()
    plain, _ = batch_loss(model, b)
    with_dc, _ = batch_loss(model, b, aux_dc_weight=1.0)
    assert with_dc > plain
    with_dc.backward()
    assert all(p.grad is not None for p in model.net.parameters())


def test_phase_sensitive_target_changes_the_danet_loss_and_bad_names_are_refused():
    from sepviz.checkpoint import build_danet
    from sepviz.danet import DANetConfig
    from sepviz.features import StftConfig
    from training.objectives import batch_loss, make_batch

    model = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1})).eval()
    mix, src = ToneMixes(2)[0]
    wfm = make_batch(mix[None], src[None], StftConfig(), 0.9)
    psa = make_batch(mix[None], src[None], StftConfig(), 0.9, target="psa")
    audible = psa.mag > 1e-3 * psa.mag.max()  # float32 STFTs of the sources sum to the mixture's
    torch.testing.assert_close(psa.target.sum(1)[audible], torch.ones(int(audible.sum())), atol=1e-3, rtol=0)
    assert not torch.allclose(psa.target, wfm.target)
    assert batch_loss(model, psa)[0] != batch_loss(model, wfm)[0]
    with pytest.raises(ValueError, match="unknown target"):
        make_batch(mix[None], src[None], StftConfig(), 0.9, target="snr")


@pytest.mark.parametrize("objective", ["danet", "adanet"])
def test_sisnr_target_scores_the_resynthesised_voices(objective):
    from sepviz.checkpoint import build_danet
    from sepviz.danet import DANetConfig
    from sepviz.features import StftConfig
    from training.objectives import batch_loss, make_batch, waveform_loss

    torch.manual_seed(0)
    model = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1}, objective=objective,
                                    n_anchors=4 if objective == "adanet" else 0))
    mix, src = ToneMixes(2)[0]
    b = make_batch(mix[None], src[None], StftConfig(), 0.9, target="sisnr")
    assert b.target is None
    loss, _ = batch_loss(model, b, aux_dc_weight=1.0)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.net.parameters())
    # Ideal binary masks resynthesise the tones well: a large SI-SNR, i.e. a very negative loss;
    # with PIT, swapping the masks changes nothing, without it the swap is heavily penalised.
    assert waveform_loss(b, b.ibm) < -10
    swapped = b.ibm.flip(1)
    torch.testing.assert_close(waveform_loss(b, swapped, pit=True), waveform_loss(b, b.ibm, pit=True))
    assert waveform_loss(b, swapped) > 0


def test_clustered_attractors_are_what_soft_kmeans_finds():
    """Embeddings that point one way per talker: the clustered attractors are the ideal ones (in
    some order), a spare slot for an absent talker stays zero, and the term trains the network."""
    from sepviz.checkpoint import build_danet
    from sepviz.danet import DANetConfig, ideal_attractors
    from sepviz.features import StftConfig
    from training.objectives import batch_loss, clustered_attractors, make_batch

    mix, src = ToneMixes(2)[0]
    src3 = torch.cat([src, torch.zeros_like(src[:1])])  # a 3-slot item with one absent talker
    b = make_batch(mix[None], src3[None], StftConfig(), 0.9, target="sisnr")
    g = torch.Generator().manual_seed(0)
    v = torch.einsum("bctf,ck->btfk", b.ibm, torch.eye(3, 4) * 3) + 0.05 * torch.randn(*b.ibm.shape[:1], *b.ibm.shape[2:], 4, generator=g)
    got = clustered_attractors(v, b)[0]
    want = ideal_attractors(v, b.ibm, b.weights)[0]
    assert got[2].abs().sum() == 0 and want[2].abs().sum() == 0
    order = [int((want[:2] @ got[c]).argmax()) for c in range(2)]
    assert sorted(order) == [0, 1]
    torch.testing.assert_close(got[:2], want[order], atol=0.05, rtol=0.05)

    torch.manual_seed(0)
    model = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1}))
    b2 = make_batch(mix[None], src[None], StftConfig(), 0.9, target="sisnr")
    plain, _ = batch_loss(model, b2)
    both, _ = batch_loss(model, b2, clustered_weight=1.0)
    both.backward()
    assert torch.isfinite(both) and both != plain
    assert all(p.grad is not None for p in model.net.parameters())


def test_tracked_term_follows_the_talkers_and_trains_the_network():
    """The trainer's tracked term: embeddings whose talker directions drift over time give
    per-frame attractors that drift with them (an absent talker's slot stays zero), a batch is
    tracked item by item, and the term changes the loss and reaches every weight."""
    from sepviz.checkpoint import build_danet
    from sepviz.calibration import Tracking
    from sepviz.danet import DANetConfig
    from sepviz.features import StftConfig
    from sepviz.tracking import windowed_attractors
    from training.objectives import batch_loss, clustered_attractors, make_batch, tracked_clustered_attractors

    mix, src = ToneMixes(2)[0]
    src3 = torch.cat([src, torch.zeros_like(src[:1])])
    b = make_batch(mix[None], src3[None], StftConfig(), 0.9, target="sisnr")
    t = b.ibm.shape[2]
    angle = torch.linspace(0, 1.2, t)  # talker 0 turns from e0 towards e3 over the mixture; talker 1 stays on e1
    dirs = torch.zeros(t, 3, 4)
    dirs[:, 0, 0], dirs[:, 0, 3], dirs[:, 1, 1], dirs[:, 2, 2] = 3 * angle.cos(), 3 * angle.sin(), 3.0, 3.0
    v = torch.einsum("bctf,tck->btfk", b.ibm, dirs)  # (1, T, F, K)
    clustered = clustered_attractors(v, b)
    tracks = tracked_clustered_attractors(v, b, clustered, Tracking(4, 0.1), 1.0)[0]  # (C, T, K)
    assert tracks.shape == (3, t, 4) and tracks[2].abs().sum() == 0
    talker0 = int((clustered[0, :2] @ dirs[0, 0]).argmax())
    # the tracked attractor of talker 0 is nearer its own direction at each end than the global one
    for frame in (5, t - 6):
        here = dirs[frame, 0]
        assert (tracks[talker0, frame] - here).norm() < (clustered[0, talker0] - here).norm()

    resp = torch.rand(2, 3, t, 5, generator=torch.Generator().manual_seed(1))
    vv = torch.randn(2, t, 5, 4, generator=torch.Generator().manual_seed(2))
    prior = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(3))
    both = windowed_attractors(vv, resp, Tracking(3, 0.5), prior)
    for i in range(2):
        torch.testing.assert_close(both[i], windowed_attractors(vv[i], resp[i], Tracking(3, 0.5), prior[i]))

    torch.manual_seed(0)
    model = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1}))
    b2 = make_batch(mix[None], src[None], StftConfig(), 0.9, target="sisnr")
    plain, _ = batch_loss(model, b2)
    tracked, _ = batch_loss(model, b2, tracked_weight=1.0, tracking=Tracking(8, 0.5), tracked_temperature=1.6)
    tracked.backward()
    assert torch.isfinite(tracked) and tracked != plain
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.net.parameters())


def test_batched_clustered_fit_matches_one_fit_per_item():
    """The trainer fits all items of a batch at once (padded, grouped by talker count); each item
    must get what the studio's own per-item fit gives on the same bins."""
    from sepviz.clusterers import direction_responsibilities, raw_means
    from sepviz.features import StftConfig
    from training.objectives import clustered_attractors, make_batch

    data = ToneMixes(4, c=3)  # items 1 and 3 have two talkers, 0 and 2 three
    mix, src = map(torch.stack, zip(*(data[i] for i in range(4))))
    b = make_batch(mix, src, StftConfig(), 0.9, target="sisnr")
    b.weights[2, :, 40:] = 0  # items with different numbers of salient bins: padding is exercised
    v = torch.randn(*b.weights.shape, 6, generator=torch.Generator().manual_seed(1))
    fit_bins = 300  # below some items' salient counts, so the seeded subsample is exercised too
    got = clustered_attractors(v, b, fit_bins=fit_bins)

    g = torch.Generator().manual_seed(0)
    for i in range(4):
        pts = v[i].reshape(-1, 6)[b.weights[i].reshape(-1) > 0]
        if pts.shape[0] > fit_bins:
            pts = pts[torch.randperm(pts.shape[0], generator=g)[:fit_bins]]
        n = int(b.present[i].sum())
        want = raw_means(pts, direction_responsibilities(pts, n))
        torch.testing.assert_close(got[i, :n], want, atol=1e-4, rtol=1e-4)
        assert got[i, n:].abs().sum() == 0
    assert sorted(int(b.present[i].sum()) for i in range(4)) == [2, 2, 3, 3]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_clustered_attractors_on_the_gpu_match_the_cpu():
    from sepviz.features import StftConfig
    from training.objectives import clustered_attractors, make_batch

    mix, src = ToneMixes(2)[0]
    b = make_batch(mix[None], src[None], StftConfig(), 0.9, target="sisnr")
    v = torch.randn(*b.ibm.shape[:1], *b.ibm.shape[2:], 4, generator=torch.Generator().manual_seed(0))
    bc = make_batch(mix[None].cuda(), src[None].cuda(), StftConfig(), 0.9, target="sisnr")
    torch.testing.assert_close(clustered_attractors(v.cuda(), bc).cpu(), clustered_attractors(v, b), atol=1e-4, rtol=1e-4)


def test_sisnr_target_is_refused_for_objectives_without_attractor_masks():
    from sepviz.checkpoint import build_danet
    from sepviz.danet import DANetConfig
    from sepviz.features import StftConfig
    from training.objectives import batch_loss, make_batch

    model = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1}, objective="dpcl"))
    mix, src = ToneMixes(2)[0]
    with pytest.raises(ValueError, match="sisnr target"):
        batch_loss(model, make_batch(mix[None], src[None], StftConfig(), 0.9, target="sisnr"))


def test_averaged_warm_start_is_the_mean_of_the_weights_and_saves_without_training(tmp_path):
    cfg = load_recipe("danet_blstm", "cpu", {"curriculum": [[10, 1]], "batch_size": 2})
    cfg.model_kwargs = {"hidden": 8, "layers": 1}
    a = Trainer(cfg, tmp_path / "a.pt", ToneMixes(4), ToneMixes(2)).fit()
    cfg.seed = 1
    b = Trainer(cfg, tmp_path / "b.pt", ToneMixes(4), ToneMixes(2)).fit()
    soup = load_recipe("danet_blstm", "cpu", {"curriculum": [[10, 0]], "batch_size": 2, "init_from": [str(a), str(b)]})
    soup.model_kwargs = cfg.model_kwargs
    t = Trainer(soup, tmp_path / "soup.pt", ToneMixes(4), ToneMixes(2))
    sa, sb = load_checkpoint(a).state_dict(), load_checkpoint(b).state_dict()
    k = "net.rnn.weight_ih_l0"
    assert not torch.equal(sa[k], sb[k])
    assert torch.allclose(t.model.state_dict()[k], (sa[k] + sb[k]) / 2, atol=1e-3)  # fp16 checkpoints
    model = load_checkpoint(t.fit())  # no epoch: the average itself, with its own fixed attractors
    assert model.card["training"]["steps"] == 0 and math.isfinite(model.card["training"]["best_valid_loss"])
    assert torch.allclose(model.state_dict()[k], (sa[k] + sb[k]) / 2, atol=2e-3)
    from training.report import training_line
    assert training_line(model.card["training"]).startswith(f"no updates of its own: the weight average of `{a}` and `{b}`")
    from sepviz.model_card import trained_line
    assert "no update of its own" in trained_line(model.card["training"])
    cfg.model_kwargs = {"hidden": 9, "layers": 1}
    c = Trainer(cfg, tmp_path / "c.pt", ToneMixes(4), ToneMixes(2)).fit()
    soup.init_from = [str(a), str(c)]
    with pytest.raises(ValueError, match="another architecture"):
        Trainer(soup, tmp_path / "bad.pt", ToneMixes(4), ToneMixes(2))


def test_report_training_line_says_when_minutes_are_only_the_last_stage():
    from training.report import training_line

    fresh = {"steps": 700, "train_minutes": 15.2, "device": "cpu", "recipe": {"init_from": None}}
    warm = {"steps": 1293, "train_minutes": 55.1, "device": "cpu", "recipe": {"init_from": "runs/a.pt"}}
    assert training_line(fresh) == "trained 700 updates in 15.2 min on cpu"
    assert "last stage, warm-started from `runs/a.pt`" in training_line(warm)


def test_report_count_line_shows_the_kmeans_count_once_and_anchors():
    from training.report import count_line

    count = {c: {"right": 20, "found": {"2": 5, "3": 20}} for c in ("kmeans", "soft_kmeans", "gmm")}
    count["anchors"] = {"right": 12, "found": {"2": 13, "3": 12}}
    line = count_line(count, 25, 3)
    assert "the 3 talkers found in 20/25 with k-means, 12/25 with anchors." in line
    assert "soft_kmeans" not in line and "gmm" not in line
    assert count_line({"head": {"right": 25, "found": {"2": 25, "3": 0}}}, 25, 2) == ""


def test_report_ratio_to_wfm_has_a_paired_standard_error():
    from training.report import ratio_standard_error, table

    rng = np.random.default_rng(0)
    wfm = rng.uniform(8, 16, 400)
    model = 0.7 * wfm + rng.normal(0, 0.5, 400)  # a hard mixture is hard for both
    se = ratio_standard_error({"model:kmeans": list(model), "oracle:wfm": list(wfm)}, "model:kmeans", "oracle:wfm")
    # the spread of the ratio over many such test sets of 400 mixtures, by simulation
    ratios = []
    for _ in range(300):
        w = rng.uniform(8, 16, 400)
        ratios.append((0.7 * w + rng.normal(0, 0.5, 400)).mean() / w.mean())
    assert 0.8 < se / np.std(ratios) < 1.25
    unpaired = np.hypot(model.std() / model.mean(), wfm.std() / wfm.mean()) * 0.7 / np.sqrt(400)
    assert se < unpaired / 3  # pairing is the point
    assert ratio_standard_error({"model:kmeans": [1.0, 2.0]}, "model:kmeans", "oracle:wfm") is None
    result = {"n": 3, "model": {"kmeans": {"si_snri": 7.0}}, "oracle": {"wfm": {"si_snri": 10.0}},
              "extra": {"si_snri_se": {"model:kmeans": 0.5, "oracle:wfm": 0.4},
                        "per_mixture": {"si_snri": {"model:kmeans": [6.0, 7.0, 8.0], "oracle:wfm": [9.0, 10.0, 11.0]}}}}
    text = table(result)
    assert "SI-SNRi standard error over the mixtures: kmeans 0.50, wfm 0.40." in text
    assert "**70.0 %** of the WFM oracle's on the same 3 mixtures (standard error 1.7 points" in text  # residuals -0.3, 0, 0.3


def test_model_card_history_splits_a_joined_log_into_stages(tmp_path):
    import json

    from sepviz.model_card import history_line, training_stages

    log = tmp_path / "m.log.jsonl"
    recs = [{"epoch": 0, "frames": 100, "steps": 50, "epoch_seconds": 60.0},
            {"epoch": 1, "frames": 400, "steps": 80, "epoch_seconds": 120.0},
            {"epoch": 0, "frames": 400, "steps": 30, "epoch_seconds": 600.0}]
    log.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    stages = training_stages(log)
    assert [s["updates"] for s in stages] == [80, 30]
    assert stages[0]["frames"] == [100, 400] and stages[1]["frames"] == [400]
    line = history_line(stages)
    assert "2 warm-started stages" in line and "110 updates" in line
    assert history_line(stages[:1]) == "" and training_stages(tmp_path / "missing.log.jsonl") == []


def test_choose_merge_cosine_takes_the_middle_of_the_best_thresholds():
    import numpy as np

    from training.calibrate import choose_merge_cosine

    # counting fits (energies dB, max cosine): split 2-talker fits sit at 0.87-0.88, 3-talker ones at 0.80
    fits = {2: [([0.0, -3.0, -9.0], 0.87), ([0.0, -2.0, -8.0], 0.88)],
            3: [([0.0, -1.0, -4.0], 0.80), ([0.0, -2.0, -3.0], 0.79)]}
    grid = np.round(np.arange(0.70, 0.951, 0.005), 3)
    merge, right = choose_merge_cosine(fits, grid)
    assert 0.80 <= merge < 0.87 and abs(merge - 0.835) < 0.006  # the middle of [0.80, 0.865]
    i = list(grid).index(merge)
    assert right[2][i] == 2 and right[3][i] == 2
    assert right[2][list(grid).index(0.9)] == 0  # too high a threshold calls every split a third talker


def test_model_card_names_a_calibrated_temperature():
    from sepviz.model_card import calibration_text

    assert calibration_text({}, {}) == ""
    text = calibration_text({"mask_temperature": {"3": 1.6, "2": 1.2}}, {"calibration": {"clusterers": ["kmeans"]}})
    assert text == (", mask temperature 1.2 (2 talkers), 1.6 (3 talkers), chosen for `kmeans` on validation "
                    "talkers (`training.calibrate`)")
    assert calibration_text({"mask_temperature": {"2": 1.6}, "attractor_tracking": {"2": {"frames": 16, "strength": 0.5}}},
                             {}).endswith("; attractor tracking +-16 frames, strength 0.5 (2 talkers), chosen with the temperature")
    assert calibration_text({"mask_temperature": {"3": 1.6}, "merge_cosine": 0.845}, {}).endswith(
        "; auto-count merge cosine 0.845, chosen on validation talkers")


def test_the_recipe_profile_is_recorded_in_the_config():
    assert load_recipe("danet_blstm", "cpu_long").profile == "cpu_long"
    assert load_recipe("danet_blstm").profile == ""


def test_speed_perturbation_reaches_the_training_mixtures_only(monkeypatch):
    """`data.speed_perturb` makes new virtual talkers for training; validation stays fixed and plain."""
    import numpy as np

    from training import train as train_module
    from training.data import corpora, splits
    from training.data.corpora import Utterance

    pool = [Utterance(f"spk{s}", "f", "test", audio=np.full(800, 0.1 * (s + 1), np.float32), name=f"u{s}_{i}")
            for s in range(4) for i in range(2)]
    monkeypatch.setitem(corpora.CORPORA, "fake", lambda root: pool)
    monkeypatch.setattr(splits, "split_utterances", lambda utts, split, **kw: utts)
    cfg = load_recipe("danet_blstm", "cpu", {"data": {"corpus": "fake", "speed_perturb": 0.1,
                                                      "finetune_fsdd_fraction": 0.0}})
    train, valid, summary = train_module.build_datasets(cfg)
    assert [ds.speed_perturb for ds in train.sets] == [0.1] and [ds.speed_perturb for ds in valid.sets] == [0.0]
    assert summary["speed_perturb"] == 0.1
    plain = load_recipe("danet_blstm", "cpu", {"data": {"corpus": "fake", "finetune_fsdd_fraction": 0.0}})
    assert not {"speed_perturb"} & set(train_module.build_datasets(plain)[2])


def test_a_pool_too_small_for_three_talkers_gives_two_talker_mixtures_of_the_same_rows(capsys):
    """A 2/3-talker recipe pooled with two real talkers (FSDD's fine-tuning pair in validation):
    that pool gives 2-talker items with a zero third row instead of refusing to build."""
    import numpy as np

    from training.data.corpora import Utterance
    from training.train import CurriculumMix

    def pool(n):
        return [Utterance(f"spk{s}", "f", "test", audio=np.full(800, 0.1 * (s + 1), np.float32), name=f"u{s}_{i}")
                for s in range(n) for i in range(2)]

    mix = CurriculumMix([(pool(4), 0.5), (pool(2), 0.5)], (2, 3), items=40, seed=0, mode="min", fixed=True)
    assert "a pool of 2 talkers gives 2-talker mixtures only" in capsys.readouterr().err
    assert [ds.n_speakers for ds in mix.sets] == [(2, 3), (2,)]
    assert {tuple(mix[i][1].shape) for i in range(40)} == {(3, 6400)}
    talkers = {int((mix[i][1].abs().sum(-1) > 0).sum()) for i in range(40)}
    assert talkers == {2, 3}
    with pytest.raises(ValueError, match="need more speakers"):
        CurriculumMix([(pool(1), 1.0)], (2, 3), items=4, seed=0, mode="min")


def test_calibrate_one_talker_chooses_the_two_voice_threshold(tmp_path, capsys, wsj0_2mix_dir):
    """--one-talker compares 2-talker mixtures with their sources alone and stores the threshold,
    keeping the temperature calibration's evidence."""
    from conftest import write_wsj0_2mix
    from sepviz.checkpoint import save_checkpoint
    from training.calibrate import choose_one_talker_cosine, main

    from _synth import tiny_danet

    grid = np.array([0.7, 0.8, 0.9])
    # pairs at 0.75 and 0.85, single talkers at 0.95: 0.85 and 0.9 tell all apart; the middle of the tie
    assert choose_one_talker_cosine([0.75, 0.85], [0.95], grid)[0] == 0.9
    # the two kinds' shares count the same: 0.8 (1/2 pairs + 4/4 single talkers) beats 0.9 (2/2 + 1/4),
    # but it warns on half the real pairs: allowed only when that many false warnings are
    chosen, pairs_right, singles_right = choose_one_talker_cosine([0.75, 0.85], [0.82, 0.83, 0.84, 0.95], grid)
    assert pairs_right == [0, 1, 2] and singles_right == [4, 4, 1] and chosen == 0.9
    assert choose_one_talker_cosine([0.75, 0.85], [0.82, 0.83, 0.84, 0.95], grid, max_false_warnings=0.5)[0] == 0.8
    path = save_checkpoint(tmp_path / "m.pt", tiny_danet("blstm"), training={"calibration": {"kept": True}})
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--limit", "2", "--one-talker", "--write"]) == 0
    out = capsys.readouterr().out
    value = float(out.split("chosen one_talker_cosine: ")[1].split()[0])
    m = load_checkpoint(path)
    assert m.config.one_talker_cosine == value and m.card["training"]["calibration"] == {"kept": True}
    assert m.card["training"]["calibration_one_talker"]["singles"] == 4
    three = write_wsj0_2mix(tmp_path / "three", n_mixtures=1, n_sources=3)
    assert main(["--checkpoint", str(path), "--data", str(three), "--one-talker"]) == 2
    assert "needs a 2-talker folder" in capsys.readouterr().err


def test_calibrate_picks_a_temperature_per_talker_count_and_writes_it(tmp_path, capsys, wsj0_2mix_dir):
    """training.calibrate scores each temperature on a validation folder and stores the best one."""
    import re

    from conftest import write_wsj0_2mix
    from sepviz.checkpoint import save_checkpoint
    from training.calibrate import main

    from _synth import tiny_danet

    path = save_checkpoint(tmp_path / "m.pt", tiny_danet("blstm", n_speakers=3))
    three = write_wsj0_2mix(tmp_path / "three", n_mixtures=2, n_sources=3)
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), str(three), "--grid", "1,2", "--write"]) == 0
    out = capsys.readouterr().out
    best = dict(zip(("2", "3"), map(float, re.findall(r"T=(\S+)\s+\S+[^\n]*<- chosen", out))))
    m = load_checkpoint(path)
    assert m.config.mask_temperature == best and set(best) == {"2", "3"}
    cal = m.card["training"]["calibration"]
    assert cal["by_talkers"]["3"]["n"] == 2 and set(cal["by_talkers"]["2"]["si_snri"]["kmeans"]) == {"1.0", "2.0"}
    # a tracking grid: every (tracking, T) pair scored, the best pair written
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--grid", "1,2",
                 "--tracking-grid", "4:0.5,8:1", "--write"]) == 0
    out = capsys.readouterr().out
    assert out.count("tracking +-4 frames, strength 0.5:") == 1 and "tracking +-8 frames, strength 1:" in out
    chosen = re.search(r"attractor_tracking: \{'2': \{'frames': (\d+), 'strength': (\S+)\}\}", out)
    assert load_checkpoint(path).config.tracking(2).frames == int(chosen.group(1))
    # a second write (2 talkers only) keeps the first's 3-talker evidence and both commands
    cal2 = load_checkpoint(path).card["training"]["calibration"]
    assert cal2["by_talkers"]["3"] == cal["by_talkers"]["3"] and "tracking" in cal2["by_talkers"]["2"]
    assert len(cal2["commands"]) == 2 and "--tracking-grid" in cal2["commands"][1] and "command" not in cal2
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--tracking-grid", "off,soon"]) == 2
    assert "--tracking-grid" in capsys.readouterr().err
    # several clusterers: one curve each and their mean, which chooses
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--grid", "0.5,1",
                 "--clusterer", "kmeans", "soft_kmeans"]) == 0
    out = capsys.readouterr().out
    assert "kmeans SI-SNRi" in out and "soft_kmeans SI-SNRi" in out and "mean of kmeans, soft_kmeans" in out
    assert out.count("<- chosen") == 3
    assert "--write" in cal["command"]
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), str(wsj0_2mix_dir), "--grid", "1,2"]) == 2
    assert "one per talker count" in capsys.readouterr().err
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--grid", "1,x"]) == 2
    assert main(["--checkpoint", str(tmp_path / "none.pt"), "--data", str(wsj0_2mix_dir)]) == 2
    # --count: the merge threshold that counts the most validation mixtures right
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), str(three), "--grid", "1", "--count",
                 "--write"]) == 0
    out = capsys.readouterr().out
    merge = float(re.search(r"merge_cosine: (\S+)", out).group(1))
    assert load_checkpoint(path).config.merge_cosine == merge and "0.850" in out
    count = load_checkpoint(path).card["training"]["calibration"]["by_talkers"]["count"]
    assert sum(count["right_at_chosen"].values()) >= sum(count["right_at_default"].values())
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--count"]) == 2
    assert "one 2-talker and one 3-talker" in capsys.readouterr().err
    two = save_checkpoint(tmp_path / "two.pt", tiny_danet("blstm"))
    assert main(["--checkpoint", str(two), "--data", str(wsj0_2mix_dir), "--count"]) == 2
    assert "counts up to 2 talkers" in capsys.readouterr().err
    assert main(["--checkpoint", str(path), "--data", str(wsj0_2mix_dir), "--clusterer", "anchors"]) == 2
    assert "cannot calibrate with anchors" in capsys.readouterr().err  # this model has no anchors
    dpcl = save_checkpoint(tmp_path / "d.pt", tiny_danet("blstm", objective="dpcl"))
    assert main(["--checkpoint", str(dpcl), "--data", str(wsj0_2mix_dir)]) == 2


def test_calibrate_scores_a_folder_whose_references_differ_in_length(tmp_path, wsj0_2mix_dir):
    """A reference a few samples shorter or longer than its mixture (a resampled or hand-made folder)
    is cut or padded to the mixture, as evaluate does, instead of failing to stack."""
    import shutil

    import soundfile as sf

    from sepviz.checkpoint import load_checkpoint, save_checkpoint
    from training.calibrate import folder_scores

    from _synth import tiny_danet

    folder = tmp_path / "uneven"
    shutil.copytree(wsj0_2mix_dir, folder)
    for i, ref in enumerate(sorted((folder / "s2").glob("*.wav"))):
        wave, sr = sf.read(ref)
        sf.write(ref, wave[:-37] if i % 2 == 0 else np.pad(wave, (0, 41)), sr)
    model = load_checkpoint(save_checkpoint(tmp_path / "m.pt", tiny_danet("blstm")))
    c, scores, _ = folder_scores(model, folder, None, ["kmeans"], (1.0,))
    assert c == 2 and scores["kmeans"].shape == (3, 1, 1) and np.isfinite(scores["kmeans"]).all()


def test_calibrate_copy_from_gives_a_checkpoint_its_parent_s_test_time_settings(tmp_path, checkpoint_factory, capsys):
    from sepviz.checkpoint import write_calibration
    from training.calibrate import main

    parent, child = checkpoint_factory(tmp_path / "parent.pt"), checkpoint_factory(tmp_path / "child.pt", seed=1)
    write_calibration(parent, {"2": 1.6}, {"note": "test"}, merge_cosine=0.8, one_talker_cosine=0.9,
                      tracking={"2": {"frames": 16, "strength": 0.5}})
    assert main(["--checkpoint", str(child), "--copy-from", str(parent)]) == 0
    cfg = load_checkpoint(child).config
    assert cfg.temperature(2) == 1.6 and cfg.merge_cosine == 0.8 and cfg.one_talker_cosine == 0.9
    assert cfg.tracking(2).frames == 16
    assert main(["--checkpoint", str(child), "--copy-from", str(tmp_path / "missing.pt")]) == 2
    assert "not found" in capsys.readouterr().err


def test_status_table_reports_kmeans_or_the_best_clusterer_with_share_of_wfm_and_silhouette():
    from training.report import status_table

    def res(model, se, geo=0.3):
        return {"n": 10, "model": model, "oracle": {"wfm": {"si_snri": 10.0}}, "geometry": {"silhouette": geo},
                "extra": {"si_snri_se": se}}

    table = status_table({
        "default": {"real2": res({"kmeans": {"si_snri": 6.0, "sdri": 7.0, "pesq": 2.5},
                                  "gmm": {"si_snri": 8.0, "sdri": 9.0, "pesq": 2.9}}, {"model:kmeans": 0.4})},
        "def_upit": {"real2": res({"head": {"si_snri": 5.0, "sdri": 6.0, "pesq": None},
                                   "soft_kmeans": {"si_snri": 4.0}}, {"model:head": 0.5}, geo=float("nan"))}})
    lines = table.splitlines()
    assert lines[2] == "| `default` | `real2` | 10 | kmeans | 6.00 (0.40) | 60 % | 7.00 | 2.50 | 0.30 |"
    assert lines[3] == "| `def_upit` | `real2` | 10 | head | 5.00 (0.50) | 50 % | 6.00 | - | - |"


def test_thesis_table_puts_our_sdri_next_to_the_thesis_figures_and_dashes_what_is_not_shipped():
    from training.report import thesis_table

    r = {"n": 10, "model": {"kmeans": {"si_snri": 7.0, "sdri": 7.5}}}
    table = thesis_table({"sce_danet": {"real2_mixed": r}}, {"sce_danet": 3_693_076},
                         {"sce_danet": 35_654_760, "dpcl_pp": 1, "adaptive": 2})
    lines = table.splitlines()
    assert len(lines) == 5
    assert lines[2].startswith("| `sce_danet` (SCE DANet finetuned) | 7.50 | - | 3,693,076 | 12.92 (10.98) |")
    assert lines[2].endswith("| 35,654,760 |")
    assert lines[3].startswith("| `dpcl_pp` (DPCL++ (reproduced)) | - | - | - | 13.35 (11.51) |")

def test_options_are_grouped_and_flat_names_still_work(capsys):
    """Flat keys (older recipes, --set, stored configs) reach their group; a removed trial option
    is refused in a recipe when switched on, and dropped with a note from a stored config."""
    from training.config import TrainConfig, flat_recipe

    cfg = load_recipe("danet_blstm_3spk", "real", {"aux_dc_weight": 100.0, "schedule": {"lr": 1e-4},
                                                   "data": {"mix_seed": 51}})
    assert cfg.loss.aux_dc_weight == 100.0 and cfg.aux_dc_weight == 100.0 and cfg.schedule.lr == 1e-4
    assert cfg.loss.target == "sisnr" and cfg.schedule.curriculum == [[400, 60]] and cfg.data.mix_seed == 51
    cfg.max_minutes = 3
    assert cfg.schedule.max_minutes == 3 and cfg.to_dict()["schedule"]["max_minutes"] == 3
    with pytest.raises(ValueError, match="warmup_steps = 200 was removed"):
        load_recipe("danet_blstm", "cpu", {"warmup_steps": 200})
    with pytest.raises(ValueError, match="unknown option data.nosuch"):
        load_recipe("danet_blstm", "cpu", {"data": {"nosuch": 1}})
    old = {"name": "x", "lr": 2.5e-4, "aux_dc_weight": 30, "warmup_steps": 0, "tracked_weight": 1.5,
           "tracked": [16, 0.5], "data": {"eq_perturb": 0.0, "mix_seed": 3}}
    back = TrainConfig.from_dict(old)
    assert back.schedule.lr == 2.5e-4 and back.loss.aux_dc_weight == 30 and back.data.mix_seed == 3
    assert "tracked_weight = 1.5 was removed" in capsys.readouterr().err
    assert flat_recipe(back.to_dict())["aux_dc_weight"] == 30 and flat_recipe(old)["lr"] == 2.5e-4
    from pathlib import Path

    shipped = Path(__file__).parent.parent / "checkpoints" / "bgru_gmm.pt"  # trained 2026-12-02
    stored = load_checkpoint(shipped).card["training"]["recipe"]  # written flat, before the groups
    assert TrainConfig.from_dict(stored).loss.aux_dc_weight == stored["aux_dc_weight"]


TWO_STAGES = """
model = "blstm"
objective = "danet"
curriculum = [[10, 1]]
batch_size = 2
[model_kwargs]
hidden = 8
layers = 1
emb_dim = 6
[profiles.tiny]
lr = 1e-3
[profiles.warm]
lr = 5e-4

[[stages]]
name = "first"
profile = "tiny"

[[stages]]
name = "second"
profile = "warm"
init_from = "first"
ship = "SHIP"
[stages.set]
aux_dc_weight = 1.0
data.mix_seed = 3
"""


def test_a_recipe_s_stages_run_in_order_each_from_the_last(tmp_path, monkeypatch):
    """`--stages` trains every stage of the recipe into --out-dir; the second starts from the
    first's weights, and the shipped copy carries both stages' logs."""
    from training import train as train_module
    from training.stages import read_stages
    from training.trainer import Trainer as TrainerClass

    recipe = tmp_path / "two.toml"
    ship = tmp_path / "shipped" / "two.pt"
    recipe.write_text(TWO_STAGES.replace("SHIP", str(ship)))
    monkeypatch.setattr(train_module, "build_datasets", lambda cfg: (ToneMixes(4), ToneMixes(2), {"train": "tones"}))
    started: list = []
    init = TrainerClass._init_weights

    def spy(self, path):
        init(self, path)
        started.append((path, {k: v.clone() for k, v in self.model.state_dict().items()}))

    monkeypatch.setattr(TrainerClass, "_init_weights", spy)
    runs = tmp_path / "runs"
    assert train_module.main([str(recipe), "--stages", "--out-dir", str(runs), "--device", "cpu"]) == 0
    first, second = runs / "first.pt", runs / "second.pt"
    assert first.exists() and second.exists() and ship.exists()
    (path, state), = started
    assert path == str(first)
    src = load_checkpoint(first).state_dict()
    assert all(torch.equal(v, src[k].to(v.dtype)) for k, v in state.items() if k.startswith("net."))
    rec = load_checkpoint(second).card["training"]["recipe"]
    assert rec["profile"] == "warm" and rec["init_from"] == str(first) and rec["data"]["mix_seed"] == 3
    assert rec["loss"]["aux_dc_weight"] == 1.0 and rec["schedule"]["lr"] == 5e-4
    from sepviz.model_card import training_stages
    assert len(training_stages(ship.with_suffix(".log.jsonl"))) == 2
    # again from the second stage only: the first's checkpoint is reused, not retrained
    first_time = first.stat().st_mtime_ns
    assert train_module.main([str(recipe), "--stages", "--from-stage", "second", "--out-dir", str(runs)]) == 0
    assert first.stat().st_mtime_ns == first_time and len(started) == 2
    assert [s.name for s in read_stages(recipe)] == ["first", "second"]
    bad = tmp_path / "bad.toml"
    bad.write_text(TWO_STAGES.replace('init_from = "first"', 'init_from = "later"'))
    assert train_module.main([str(bad), "--stages", "--out-dir", str(runs)]) == 2


def test_a_shipped_log_follows_the_stages_it_grew_from():
    from training.stages import Stage, lineage

    st = [Stage(n, "r", init_from=i) for n, i in (("pre", ""), ("trial", "pre"), ("a", "pre"), ("b", "pre"),
                                                  ("soup", ["a", "b"]), ("more", "runs/elsewhere.pt"))]
    assert [s.name for s in lineage(st[4], st)] == ["pre", "a", "b", "soup"]  # not the trial
    assert [s.name for s in lineage(st[1], st)] == ["pre", "trial"]
    assert [s.name for s in lineage(st[5], st)] == ["more"]


def test_every_shipped_stage_list_reads():
    """Each recipe's [[stages]] resolve to configs (names, profiles, options) without training."""
    from pathlib import Path

    from training.stages import read_stages, stage_config

    listed = 0
    for name in RECIPES:
        stages = read_stages(name) if "[[stages]]" in (RECIPES_DIR / f"{name}.toml").read_text() else []
        for stage in stages:
            cfg = stage_config(stage, Path("runs"))
            assert cfg.schedule.max_minutes > 0 or cfg.schedule.curriculum[0][1] == 0, stage.name
            listed += 1
    assert listed >= 3


@pytest.mark.parametrize("recipe, shipped, last", [("danet_blstm", "danet_2spk", "danet_2spk_real"),
                                                   ("danet_blstm_3spk", "default", "default_real2")])
def test_the_shipped_lineages_stage_lists_match_their_checkpoints(recipe, shipped, last, tmp_path, monkeypatch):
    """The stage lists of danet_2spk.pt and default.pt (written after the checkpoints, from the `--set`
    chains that trained them): one training stage per stage of the checkpoint's joined log (averages
    train nothing), and the last stage's config is the one the checkpoint stored (all but the warm
    start, whose file had another name then).  `--to-stage` / `--from-stage` split the default's list
    where scripts/train_cpu.sh calibrates the synthetic-talker network."""
    from pathlib import Path

    from sepviz.model_card import training_stages
    from training import stages as stages_module
    from training.config import TrainConfig

    listed = stages_module.read_stages(recipe)
    trained = [s for s in listed if any(e for _, e in stages_module.stage_config(s, tmp_path).schedule.curriculum)]
    assert len(trained) == len(training_stages(Path(f"checkpoints/{shipped}.log.jsonl")))
    assert listed[-1].name == last
    stored = TrainConfig.from_dict(load_checkpoint(f"checkpoints/{shipped}.pt").card["training"]["recipe"]).to_dict()
    ours = stages_module.stage_config(listed[-1], tmp_path).to_dict()
    init = ours.pop("init_from")  # the previous stage, or the two runs a weight average is made of
    assert init in (str(tmp_path / f"{listed[-2].name}.pt"), [str(tmp_path / f"{s.name}.pt") for s in listed[-3:-1]])
    stored.pop("init_from")
    assert ours == stored

    ran, shipped_at = [], []
    monkeypatch.setattr(stages_module, "ship", lambda stage, done, out_dir: shipped_at.append((stage.name, stage.ship)))
    to = "default_stage9" if recipe == "danet_blstm_3spk" else None  # the real-voice stages follow it
    names = [s.name for s in listed]
    assert stages_module.run_stages(recipe, tmp_path, lambda cfg, out: ran.append(out.stem) or 0, to_stage=to) == 0
    assert ran == (names[:names.index(to) + 1] if to else names)
    assert shipped_at == [(ran[-1], f"checkpoints/{shipped}.pt")]
    if to:
        ran.clear()
        assert stages_module.run_stages(recipe, tmp_path, lambda cfg, out: ran.append(cfg.init_from) or 0,
                                        from_stage="default_real") == 0
        p = lambda name: str(tmp_path / f"{name}.pt")  # noqa: E731
        assert ran == [p("default_stage9"), p("default_real"), p("default_real"), [p("default_real2d"), p("default_real2e")]]

