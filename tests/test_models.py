"""Embedding nets: shapes, paper-sized defaults, activations, dropout, registry."""
import pytest
import torch
from torch import nn

from _synth import TINY_KWARGS
from sepviz.models import MODELS, build_model, count_parameters, embedding_activation


def feats(b=2, t=17, f=129, seed=0):
    return torch.randn(b, t, f, generator=torch.Generator().manual_seed(seed))


def test_every_registered_model_has_a_tiny_config():
    assert set(MODELS) == set(TINY_KWARGS)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("k", [5, 20])
def test_output_shape(name, k):
    torch.manual_seed(0)
    net = build_model(name, emb_dim=k, **TINY_KWARGS[name]).eval()
    for t in (1, 3, 17):  # a single frame included
        v = net(feats(2, t))
        assert v.shape == (2, t, 129, k)
        assert torch.isfinite(v).all()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_other_frequency_resolution(name):
    net = build_model(name, n_freq=257, emb_dim=4, **TINY_KWARGS[name]).eval()
    assert net(feats(1, 5, 257)).shape == (1, 5, 257, 4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_batch_items_are_independent_and_bins_are_not_shuffled(name):
    """Item 0's embeddings do not depend on item 1 (eval mode), and V[b, t, f] belongs to bin (t, f)."""
    torch.manual_seed(0)
    net = build_model(name, emb_dim=4, **TINY_KWARGS[name]).eval()
    x = feats(2, 9)
    full = net(x)
    torch.testing.assert_close(full[0], net(x[:1])[0], atol=1e-5, rtol=1e-5)
    if name == "dilated_cnn":  # local: perturbing one bin changes embeddings near it only
        y = x.clone()
        y[0, 4, 100] += 5.0
        diff = (net(y) - full)[0].abs().sum(-1)  # (T, F)
        assert diff[4, 100] > 0 and diff[:, :50].max() == 0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gradients_reach_every_parameter(name):
    net = build_model(name, emb_dim=4, **TINY_KWARGS[name]).train()
    net(feats(2, 6)).pow(2).mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def test_default_blstm_is_four_by_600_bidirectional():
    net = build_model("blstm")
    rnn = net.rnn
    assert isinstance(rnn, nn.LSTM)
    assert (rnn.hidden_size, rnn.num_layers, rnn.bidirectional, rnn.input_size) == (600, 4, True, 129)
    assert (net.n_freq, net.emb_dim, net.activation) == (129, 20, "none")
    assert net.proj.in_features == 1200 and net.proj.out_features == 129 * 20


def test_default_bgru_has_about_a_fifth_fewer_parameters():
    blstm, bgru = build_model("blstm"), build_model("bgru")
    assert isinstance(bgru.rnn, nn.GRU)
    assert (bgru.rnn.hidden_size, bgru.rnn.num_layers, bgru.rnn.bidirectional) == (600, 4, True)
    n_lstm, n_gru = count_parameters(blstm), count_parameters(bgru)
    assert 30e6 < n_lstm < 35e6
    assert 0.20 <= 1 - n_gru / n_lstm <= 0.25


def test_default_dilated_cnn_size_and_depth():
    net = build_model("dilated_cnn")
    assert 1.5e6 <= count_parameters(net) <= 1.75e6
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and all(c.kernel_size == (3, 3) for c in convs)
    dilations = [c.dilation[0] for c in convs[1:-1]]
    assert max(dilations) >= 16 and dilations[:4] == [1, 2, 4, 8]  # exponential receptive field


def test_default_dilated_cnn_runs_on_a_short_input():
    net = build_model("dilated_cnn").eval()
    with torch.no_grad():
        assert net(feats(1, 4)).shape == (1, 4, 129, 20)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_activations(name):
    torch.manual_seed(0)
    raw = build_model(name, emb_dim=6, activation="none", **TINY_KWARGS[name]).eval()
    x = feats(1, 5)
    v = raw(x)
    for act, check in [("unit", lambda e: torch.allclose(e.norm(dim=-1), torch.ones(e.shape[:-1]), atol=1e-5)),
                       ("tanh", lambda e: bool((e.abs() < 1).all()))]:
        torch.manual_seed(0)
        net = build_model(name, emb_dim=6, activation=act, **TINY_KWARGS[name]).eval()
        e = net(x)
        assert check(e), act
        torch.testing.assert_close(e, embedding_activation(v, act))  # same weights, activation applied last
    assert (v.norm(dim=-1) - 1).abs().max() > 1e-2  # "none" really is raw


def test_unknown_activation_fails_at_build_time():
    with pytest.raises(ValueError, match="activation"):
        build_model("blstm", hidden=4, layers=1, activation="relu6")
    with pytest.raises(ValueError, match="activation"):
        embedding_activation(torch.zeros(2), "softplus")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dropout_is_configurable(name):
    kw = dict(TINY_KWARGS[name], layers=max(2, TINY_KWARGS[name]["layers"]))
    x = feats(2, 8)
    torch.manual_seed(0)
    net = build_model(name, emb_dim=4, dropout=0.5, **kw)
    assert net.dropout == 0.5
    if name in ("blstm", "bgru"):
        assert net.rnn.dropout == 0.5
    net.train()
    assert not torch.allclose(net(x), net(x))  # stochastic in training
    net.eval()
    torch.testing.assert_close(net(x), net(x))  # deterministic in eval
    torch.manual_seed(0)
    plain = build_model(name, emb_dim=4, dropout=0.0, **kw).train()
    assert plain.dropout == 0.0
    if name != "dilated_cnn":  # (batch norm makes train-mode CNN outputs batch dependent, not random)
        torch.testing.assert_close(plain(x), plain(x))


def test_single_layer_rnn_ignores_inter_layer_dropout_without_warning(recwarn):
    net = build_model("bgru", hidden=4, layers=1, dropout=0.3)
    assert net.rnn.dropout == 0.0 and net.dropout == 0.3
    assert not [w for w in recwarn if "dropout" in str(w.message)]


def test_registry_error_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown model 'transformer'.*blstm.*dilated_cnn"):
        build_model("transformer")


@pytest.mark.parametrize("shape", [(2, 10), (2, 10, 128), (1, 2, 10, 129)])
def test_wrong_feature_shape_is_a_clear_error(shape):
    net = build_model("blstm", hidden=4, layers=1)
    with pytest.raises(ValueError, match="expected features"):
        net(torch.zeros(shape))


def test_dilated_cnn_needs_three_layers():
    with pytest.raises(ValueError, match="at least 3"):
        build_model("dilated_cnn", layers=2)
