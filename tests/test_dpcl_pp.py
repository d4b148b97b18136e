"""DPCL++: the enhancement layer after the clusterer, its training steps, and its checkpoints."""
import math

import numpy as np
import pytest
import torch

from sepviz.checkpoint import build_danet, load_checkpoint, save_checkpoint
from sepviz.danet import DANetConfig
from sepviz.models.enhance import Enhancer
from training.config import load_recipe
from training.trainer import Trainer
from _synth import ToneMixes


def test_enhancer_masks_keep_their_shape_sum_to_one_and_train():
    torch.manual_seed(0)
    enh = Enhancer(n_freq=9, hidden=4, layers=1)
    mag = torch.rand(2, 5, 9) + 0.1
    masks = torch.softmax(torch.randn(2, 3, 5, 9), dim=1)
    out = enh(mag, masks)
    assert out.shape == masks.shape
    assert torch.allclose(out.sum(1), torch.ones(2, 5, 9), atol=1e-5)
    out[:, 0].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enh.parameters())
    # one network for every talker: reordering the estimates reorders the output, nothing more ...
    assert torch.allclose(enh(mag, masks.flip(1)), out.flip(1), atol=1e-6)
    # ... and the output depends on the estimates, not only on the mixture
    other = torch.softmax(torch.randn(2, 3, 5, 9), dim=1)
    assert not torch.allclose(enh(mag, other), out, atol=1e-3)


def test_a_checkpoint_with_an_enhancement_layer_loads_and_separates_with_it(tmp_path, tone_pair):
    from sepviz.separate import embed, separate_embedding

    torch.manual_seed(0)
    cfg = DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1, "emb_dim": 6, "activation": "unit"},
                      objective="dpcl", enhance={"hidden": 4, "layers": 1})
    path = save_checkpoint(tmp_path / "pp.pt", build_danet(cfg).eval(), training={"steps": 0})
    model = load_checkpoint(path)
    assert model.enhancer is not None and model.config.enhance == {"hidden": 4, "layers": 1}
    mix, _ = tone_pair
    emb = embed(mix, 8000, model)
    sep = separate_embedding(emb, "kmeans", 2)
    assert sep.masks.shape[0] == 2 and np.isfinite(sep.masks).all()
    # without the layer deep clustering's masks are binary; with it they are the layer's soft ones
    assert not np.isin(np.unique(np.round(sep.masks, 6)), [0.0, 1.0]).all()
    assert np.allclose(sep.masks.sum(0), 1.0, atol=1e-4)


def test_an_older_checkpoint_has_no_enhancement_layer(tiny_checkpoint):
    model = load_checkpoint(tiny_checkpoint)
    assert model.enhancer is None and model.config.enhance == {}
    m = torch.rand(1, 2, 3, 4)
    assert model.enhance(torch.rand(1, 3, 4), m) is m


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("profile, frozen", [("cpu_enhance", True), ("cpu_finetune", False)])
def test_dpcl_pp_steps_train_the_layer_alone_then_the_whole_chain(profile, frozen, tmp_path):
    cfg = load_recipe("dpcl_pp", profile, {"curriculum": [[20, 2]], "batch_size": 4})
    cfg.model_kwargs = {"hidden": 8, "layers": 1, "emb_dim": 6, "activation": "unit"}
    cfg.enhance = {"hidden": 4, "layers": 1}
    trainer = Trainer(cfg, tmp_path / "m.pt", ToneMixes(8), ToneMixes(4))
    net0, enh0 = _state(trainer.model.net), _state(trainer.model.enhancer)
    path = trainer.fit()
    assert all(math.isfinite(h["valid_loss"]) for h in trainer.history)
    net1, enh1 = _state(trainer.model.net), _state(trainer.model.enhancer)
    assert any(not torch.equal(enh0[k], enh1[k]) for k in enh0)
    assert all(torch.equal(net0[k], net1[k]) for k in net0) == frozen
    assert load_checkpoint(path).enhancer is not None


def test_freezing_the_embeddings_needs_an_enhancement_layer(tmp_path):
    cfg = load_recipe("dpcl_pp", "cpu_enhance", {"curriculum": [[10, 1]], "batch_size": 2})
    cfg.model_kwargs = {"hidden": 8, "layers": 1, "emb_dim": 6, "activation": "unit"}
    cfg.enhance = {}
    trainer = Trainer(cfg, tmp_path / "m.pt", ToneMixes(2), ToneMixes(2))
    with pytest.raises(ValueError, match="enhancement layer"):
        trainer.fit()


def test_the_studio_names_the_enhancement_layer(tmp_path):
    from sepviz.studio.models import Checkpoints

    cfg = DANetConfig(model="blstm", model_kwargs={"hidden": 8, "layers": 1, "emb_dim": 6, "activation": "unit"},
                      objective="dpcl", enhance={"hidden": 4, "layers": 1})
    save_checkpoint(tmp_path / "pp.pt", build_danet(cfg).eval(), training={"steps": 0})
    cfg.enhance = {}
    save_checkpoint(tmp_path / "plain.pt", build_danet(cfg).eval(), training={"steps": 0})
    shelf = Checkpoints(tmp_path)
    assert shelf.model_label("pp").startswith("pp (deep clustering + enhancement layer, BLSTM,")
    assert shelf.model_label("plain").startswith("plain (deep clustering, BLSTM,")
