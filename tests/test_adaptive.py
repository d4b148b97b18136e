"""The thesis's adaptive front-end (sepviz.frontend): shapes, gradients, separation-autoencoder
pretraining, a separator on its latent, checkpoints old and new, and the Teaching-tab figures."""
import math

import numpy as np
import pytest
import torch

from sepviz.checkpoint import build_danet, load_checkpoint, save_checkpoint
from sepviz.danet import DANetConfig
from sepviz.errors import CheckpointError
from sepviz.frontend import (AdaptiveFrontend, FrontendConfig, build_frontend, frontend_features,
                             frontend_resynthesis, kl_sparsity, overlap_penalty, separate_with_source_masks,
                             separation_autoencoder_loss, source_masks)
from training.config import load_recipe
from training.trainer import Trainer
from _synth import ToneMixes

TINY_FE = {"n_filters": 32, "kernel": 64, "stride": 4, "pool": 4}  # hop 16 samples


def _sines(g: torch.Generator, n: int = 8, length: int = 1024) -> torch.Tensor:
    """``(n, 2, length)`` pairs of sines, 100-1600 Hz, random phase and level."""
    f = 100 + 1500 * torch.rand(n, 2, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 2, 1, generator=g)
    amp = 0.1 + 0.3 * torch.rand(n, 2, 1, generator=g)
    return amp * torch.sin(2 * math.pi * f * torch.arange(length) / 8000 + phase)


def _snr_db(est: torch.Tensor, ref: torch.Tensor) -> float:
    return float((10 * torch.log10((ref ** 2).sum(-1) / ((est - ref) ** 2).sum(-1))).mean())


@pytest.mark.parametrize("length", [1000, 1024, 1039])
def test_encode_decode_shapes_follow_the_stft_frame_grid(length):
    fe = build_frontend({})  # the defaults: 256 filters of 256 taps, hop 16 x 4 = the STFT's 64
    wave = torch.randn(3, length)
    latent, idx = fe.encode(wave)
    assert latent.shape == (3, length // 64 + 1, 256) and idx.shape == (3, 256, length // 64 + 1)
    assert (latent >= 0).all() and idx.dtype == torch.int64
    assert fe.decode(latent, idx, length).shape == (3, length)
    # masked latents of C talkers share the mixture's indices
    assert fe.decode(latent.unsqueeze(1).expand(3, 2, -1, -1), idx.unsqueeze(1), length).shape == (3, 2, length)
    one, one_idx = fe.encode(wave[0])
    assert torch.allclose(one, latent[0], atol=1e-4) and one_idx.shape == idx[0].shape  # (batched conv: rounding)


def test_config_checks_and_round_trip():
    cfg = FrontendConfig(**TINY_FE)
    assert cfg.hop == 16 and FrontendConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown front-end settings"):
        FrontendConfig.from_dict({"filters": 3})
    with pytest.raises(ValueError, match="init"):
        FrontendConfig(init="dct")


def test_gradients_reach_the_window_the_bases_and_the_synthesis():
    torch.manual_seed(0)
    fe = AdaptiveFrontend(FrontendConfig(**TINY_FE))
    src = _sines(torch.Generator().manual_seed(0), 2, 512)
    loss, terms = separation_autoencoder_loss(fe, src.sum(1), src)
    loss.backward()
    for name in ("window", "bases", "synthesis"):
        grad = getattr(fe, name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    assert set(terms) == {"nmse", "kl", "overlap"}


def test_the_loss_terms_mean_what_they_say():
    x = torch.rand(1, 1, 5, 4) + 0.5
    # overlapping: equal talkers share every cell, disjoint ones none
    assert overlap_penalty(torch.cat([x, x], 1)) == pytest.approx(1.0, abs=5e-3)
    disjoint = torch.cat([x * (torch.arange(4) % 2), x * (1 - torch.arange(4) % 2)], 1)
    assert float(overlap_penalty(disjoint)) == 0.0
    # an absent (zero-padded) talker's pairs do not count
    assert float(overlap_penalty(torch.cat([x, x, x], 1), torch.tensor([[True, False, False]]))) == 0.0
    # KL sparsity is zero at the target mean activation and grows away from it
    rho = 0.05
    at = torch.full((10, 3), rho / (1 - rho))  # x / (1 + x) = rho
    assert float(kl_sparsity(at, rho)) == pytest.approx(0.0, abs=1e-6)
    assert kl_sparsity(at * 10, rho) > 0.1
    masks = source_masks(torch.cat([x, 3 * x], 1))
    assert torch.allclose(masks.sum(1), torch.ones(1, 5, 4), atol=1e-6)


def test_brief_pretraining_separates_two_sines_from_ideal_latent_masks():
    """Two hundred steps of a tiny front-end: the voices decoded from the source-masked mixture
    latent reach > 9 dB SNR on unseen sine pairs; untrained (an STFT-like bank), about 4 dB."""
    torch.manual_seed(0)
    fe = AdaptiveFrontend(FrontendConfig(**TINY_FE))
    test = _sines(torch.Generator().manual_seed(123), 16)

    def snr() -> float:
        with torch.no_grad():
            return _snr_db(separate_with_source_masks(fe, test.sum(1), test).estimates, test)

    before = snr()
    opt = torch.optim.Adam(fe.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        src = _sines(g)
        loss, _ = separation_autoencoder_loss(fe, src.sum(1), src)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = snr()
    assert before < 6.0, before
    assert after > 9.0, after


def _frontend_danet(objective="danet", **model_kwargs):
    torch.manual_seed(0)
    kwargs = {"hidden": 8, "layers": 1, "emb_dim": 6, **model_kwargs}
    return build_danet(DANetConfig(model="blstm", model_kwargs=kwargs, objective=objective, frontend=dict(TINY_FE)))


def test_a_danet_on_the_latent_trains_a_step_and_round_trips_through_a_checkpoint(tmp_path):
    from training.objectives import batch_loss, make_frontend_batch

    model = _frontend_danet()
    assert model.frontend is not None and model.net.n_freq == 32
    fe_before = {k: v.clone() for k, v in model.frontend.state_dict().items()}
    src = _sines(torch.Generator().manual_seed(1), 4, 800)
    b = make_frontend_batch(model, src.sum(1), src, keep=0.9)
    assert b.mag.shape == (4, 800 // 16 + 1, 32) and b.ibm.shape == (4, 2, 51, 32)
    assert torch.allclose(b.ibm.sum(1), torch.ones(4, 51, 32))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    net_before = {k: v.clone() for k, v in model.net.state_dict().items()}
    loss, att = batch_loss(model, b)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and att.shape == (4, 2, 6)
    assert any(not torch.equal(net_before[k], v) for k, v in model.net.state_dict().items())
    assert all(torch.equal(fe_before[k], v) for k, v in model.frontend.state_dict().items())  # frozen
    model.eval()
    path = save_checkpoint(tmp_path / "adapt.pt", model)
    loaded = load_checkpoint(path)
    assert loaded.config.frontend == TINY_FE
    wave = src[0].sum(0)
    views = [frontend_features(m, wave) for m in (model, loaded)]
    with torch.no_grad():
        v0, v1 = model(views[0].feats), loaded(views[1].feats)
        masks = torch.softmax(torch.randn(1, 2, *views[0].latent.shape[1:]), 1)
        w0, w1 = (frontend_resynthesis(m, masks, v) for m, v in zip((model, loaded), views))
    assert torch.equal(views[0].latent, views[1].latent) and torch.equal(v0, v1)
    assert w0.shape == (1, 2, 800) and torch.equal(w0, w1)


def test_masks_of_one_resynthesise_the_plain_autoencoding():
    model = _frontend_danet(objective="dpcl", activation="unit")
    wave = torch.randn(2, 700) * 0.1
    view = frontend_features(model, wave)
    both = frontend_resynthesis(model, torch.full((2, 2, *view.latent.shape[1:]), 0.5), view)
    assert torch.allclose(both.sum(1), model.frontend(wave), atol=1e-6)


def test_an_old_checkpoint_has_no_frontend_and_refuses_the_frontend_path():
    from pathlib import Path

    model = load_checkpoint(Path(__file__).resolve().parents[1] / "checkpoints" / "default.pt")
    assert model.frontend is None and model.config.frontend == {}
    with pytest.raises(ValueError, match="no adaptive front-end"):
        frontend_features(model, torch.zeros(100))


def test_a_frontend_with_the_enhancement_layer_is_refused():
    with pytest.raises(ValueError, match="enhancement"):
        build_danet(DANetConfig(model_kwargs={"hidden": 8, "layers": 1}, frontend=dict(TINY_FE),
                                enhance={"hidden": 4, "layers": 1}))


def test_pretraining_recipe_runs_and_warm_starts_a_separator(tmp_path):
    cfg = load_recipe("adapt_pretrain", "cpu", {"curriculum": [[20, 1]], "batch_size": 4, "frontend": TINY_FE})
    trainer = Trainer(cfg, tmp_path / "ae.pt", ToneMixes(8), ToneMixes(4))
    before = trainer.model.frontend.bases.detach().clone()
    path = trainer.fit()
    assert math.isfinite(trainer.history[-1]["valid_loss"])
    assert not torch.equal(before, trainer.model.frontend.bases)
    with pytest.raises(CheckpointError, match="pretrained adaptive front-end"):
        load_checkpoint(path)
    for recipe in ("adapt_dpcl", "adapt_sce_danet"):
        sep_cfg = load_recipe(recipe, "cpu", {"curriculum": [[20, 1]], "batch_size": 4, "frontend": TINY_FE,
                                              "init_from": str(path), "sce_weight": 0.0})
        sep_cfg.model_kwargs = {**sep_cfg.model_kwargs, "hidden": 8, "layers": 1, "emb_dim": 6}
        sep = Trainer(sep_cfg, tmp_path / f"{recipe}.pt", ToneMixes(8), ToneMixes(4))
        assert torch.equal(sep.model.frontend.bases, trainer.model.frontend.bases.to(torch.float16).float())
        if recipe == "adapt_dpcl":
            out = load_checkpoint(sep.fit())
            assert out.frontend is not None and out.config.frontend == {**TINY_FE, "init": "fourier"}
    other = load_recipe("adapt_dpcl", "cpu", {"frontend": {**TINY_FE, "pool": 2}, "init_from": str(path)})
    other.model_kwargs = {**other.model_kwargs, "hidden": 8, "layers": 1}
    with pytest.raises(ValueError, match="front-end"):
        Trainer(other, tmp_path / "x.pt", ToneMixes(2), ToneMixes(2))


def test_frontend_figures_have_their_traces():
    from sepviz.viz import frontend_bases_figure, frontend_latent_figure

    fe = build_frontend(TINY_FE)
    fig = frontend_bases_figure(fe)
    names = [t.name for t in fig.data]
    assert names == ["learned filters", "STFT bases", "learned responses", "STFT responses"]
    assert all(t.type == "heatmap" for t in fig.data)
    assert fig.data[0].z.shape == (32, 64) and fig.data[1].z.shape == (129, 256)
    assert fig.layout.yaxis.title.text == "learned filter (sorted by centre frequency)"
    assert fig.layout.xaxis2.title.text == "frequency (Hz)" and fig.layout.xaxis.title.text == "time (ms)"
    # sorted by centre frequency: the learned responses' peaks rise from the bottom row up
    peaks = np.asarray(fig.data[2].z).argmax(1)
    assert (np.diff(peaks) >= 0).all()
    # hover names each drawn row by its stored filter (the latent channel), not its sorted position
    order = fe.sort_order().numpy()
    for trace in (fig.data[0], fig.data[2]):
        assert [row[0].split(" (")[0] for row in trace.customdata] == [f"filter {i}" for i in order]
        assert "%{customdata}" in trace.hovertemplate
    assert fig.data[1].customdata[2][0] == "bin 2 (62 Hz)"
    assert frontend_bases_figure(_frontend_danet()).data[0].z.shape == (32, 64)  # a DANet works too
    with torch.no_grad():
        latent, _ = fe.encode(torch.randn(1000) * 0.1)
    lat = frontend_latent_figure([("mixture", latent.numpy()), ("voice 1", latent.numpy() / 2)],
                                 order=fe.sort_order().numpy(), seconds_per_frame=fe.config.hop / 8000)
    assert [t.name for t in lat.data] == ["mixture", "voice 1"]
    assert lat.layout.yaxis.title.text == "learned filter (sorted by centre frequency)"
    assert lat.layout.xaxis2.title.text == "time (s)"
    assert lat.data[0].z.shape == (32, latent.shape[0])
    assert float(lat.data[0].x[-1]) == pytest.approx((latent.shape[0] - 1) * 16 / 8000)


def test_frequency_maps_share_each_bin_among_its_filters():
    from training.warm_start import frequency_maps

    bins = torch.arange(5) * 100.0
    a, b = frequency_maps(bins, torch.tensor([0.0, 50.0, 150.0, 400.0, 900.0]))
    assert a.shape == (5, 5) and b.shape == (5, 5)
    assert torch.allclose(a.sum(1), torch.ones(5)) and torch.allclose(b.sum(1), torch.ones(5))
    assert a[3].argmax() == 3 and a[3, 3] == 1.0          # bin 300 Hz has no filter near: the nearest
    assert torch.allclose(b[1], torch.tensor([0.5, 0.5, 0, 0, 0]))  # 50 Hz: half of 0 Hz, half of 100 Hz
    assert b[4].argmax() == 4 and b[4, 4] == 1.0          # beyond the last bin: the last bin


def test_a_net_carried_onto_filters_at_the_bins_is_the_same_net():
    """Filters sitting exactly on the STFT bins (in any order): the carried net is the STFT net
    with its input and output bins permuted the same way."""
    from sepviz.features import StftConfig
    from training.warm_start import carry_net_onto_frontend

    torch.manual_seed(0)
    n_bins = StftConfig().n_freq
    stft_net = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 2, "emb_dim": 3}))
    fe_net = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 2, "emb_dim": 3},
                                     frontend={"n_filters": n_bins, "kernel": 256, "stride": 16, "pool": 4}))
    perm = torch.randperm(n_bins)
    bin_hz = torch.arange(n_bins) * 8000 / 256
    carried = carry_net_onto_frontend(stft_net.state_dict(), fe_net.state_dict(), 3, bin_hz, bin_hz[perm])
    assert not any(k.startswith("frontend.") for k in carried)
    fe_net.load_state_dict(carried, strict=False)
    stft_net.eval(), fe_net.eval()
    feats = torch.randn(2, 7, n_bins)
    with torch.no_grad():
        assert torch.allclose(fe_net(feats[..., perm]), stft_net(feats)[:, :, perm], atol=1e-5)
    with pytest.raises(ValueError, match="recurrent"):
        carry_net_onto_frontend({"net.conv.weight": torch.zeros(1)}, fe_net.state_dict(), 3, bin_hz, bin_hz)


def test_net_from_carries_the_default_onto_a_front_end_and_trains_on_the_signal(tmp_path):
    from pathlib import Path

    default = str(Path(__file__).resolve().parents[1] / "checkpoints" / "default.pt")
    fe = {"n_filters": 64, "kernel": 64, "stride": 16, "pool": 4}
    cfg = load_recipe("adapt_sce_danet", "real", {"curriculum": [[20, 1]], "batch_size": 2, "frontend": fe,
                                                  "net_from": default, "sce_weight": 0.0,
                                                  "aux_dc_weight": 1.0})
    trainer = Trainer(cfg, tmp_path / "carried.pt", ToneMixes(4), ToneMixes(2))
    src = load_checkpoint(default)
    assert torch.equal(trainer.model.net.rnn.weight_hh_l1, src.net.rnn.weight_hh_l1.float())
    assert trainer.model.net.rnn.weight_ih_l0.shape[1] == 64
    fe_before = trainer.model.frontend.bases.detach().clone()
    out = load_checkpoint(trainer.fit())
    assert math.isfinite(trainer.history[-1]["valid_loss"])
    assert torch.equal(out.frontend.bases, fe_before.to(torch.float16).float())  # the front-end stays frozen
    stft = load_recipe("sce_danet", "real", {"net_from": default, "init_from": ""})
    with pytest.raises(ValueError, match="no adaptive front-end"):
        Trainer(stft, tmp_path / "x.pt", ToneMixes(2), ToneMixes(2))


def test_the_signal_target_on_the_latent_reaches_the_net_through_the_back_end():
    from training.objectives import batch_loss, make_frontend_batch, waveform_loss

    model = _frontend_danet()
    src = _sines(torch.Generator().manual_seed(2), 3, 800)
    b = make_frontend_batch(model, src.sum(1), src, keep=0.9, target="sisnr")
    assert b.target is None and b.resynth is not None
    # ideal masks give the talkers back well (an untrained tiny front-end: about 7 dB SI-SNR);
    # halving the mixture gives each talker at below 0 dB
    ideal = waveform_loss(b, b.src_mag / (b.src_mag.sum(1, keepdim=True) + 1e-8))
    half = waveform_loss(b, torch.full_like(b.src_mag, 0.5))
    assert float(ideal) < -5.0 and float(half) > 0.0
    loss, _ = batch_loss(model, b)
    loss.backward()
    assert model.net.proj.weight.grad is not None and model.net.proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.frontend.parameters())
    with pytest.raises(ValueError, match="'wfm' or 'sisnr'"):
        make_frontend_batch(model, src.sum(1), src, keep=0.9, target="psa")


def test_the_log_floor_keeps_silent_cells_from_dominating_the_features():
    from sepviz.frontend import frontend_log_features

    latent = torch.rand(1, 20, 16) + 0.5
    latent[..., ::3] = 0.0  # a third of the cells exactly zero, as ReLU leaves them
    floored, bare = frontend_log_features(latent, 1e-3), frontend_log_features(latent, 0.0)
    live = latent > 0
    # without the floor the zeros sit at log(1e-8), far below the rest, and
    # squash the live cells together; with it the live cells keep their spread
    assert floored[live].std() > 2 * bare[live].std()
    assert torch.isfinite(floored).all()
    with pytest.raises(ValueError, match="log_floor"):
        FrontendConfig(log_floor=1.5)


def test_end_to_end_fine_tuning_moves_the_front_end_on_the_signal_loss_only(tmp_path):
    fe = {"n_filters": 16, "kernel": 32, "stride": 4, "pool": 4}
    over = {"curriculum": [[20, 1]], "batch_size": 2, "frontend": fe, "sce_weight": 0.0, "init_from": "",
            "net_from": "", "model_kwargs": {"hidden": 8, "layers": 1, "emb_dim": 4}}
    cfg = load_recipe("adapt_sce_danet", "real", {**over, "train_frontend": True})
    trainer = Trainer(cfg, tmp_path / "e2e.pt", ToneMixes(4), ToneMixes(2))
    before = {k: v.detach().clone() for k, v in trainer.model.frontend.state_dict().items()}
    out = load_checkpoint(trainer.fit())
    moved = [k for k, v in out.frontend.state_dict().items() if not torch.equal(v, before[k].to(torch.float16).float())]
    assert set(moved) == {"window", "bases", "synthesis"}  # analysis and synthesis both learn
    assert all(not p.requires_grad for p in out.frontend.parameters())  # a loaded model is frozen again
    with pytest.raises(ValueError, match="sisnr"):
        Trainer(load_recipe("adapt_sce_danet", "real", {**over, "train_frontend": True, "target": "wfm"}),
                tmp_path / "x.pt", ToneMixes(2), ToneMixes(2))
    with pytest.raises(ValueError, match="front-end"):
        Trainer(load_recipe("sce_danet", "real", {"train_frontend": True, "init_from": ""}),
                tmp_path / "y.pt", ToneMixes(2), ToneMixes(2))
