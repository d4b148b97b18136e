"""Source-contrastive estimation (the thesis's SCE): loss, silenced bins, negative sampling, training."""
import math

import numpy as np

import pytest
import torch

from sepviz.losses import sample_negatives, silenced_weights, source_contrastive_loss
from training.config import load_recipe
from training.trainer import Trainer
from _synth import ToneMixes


def _toy(B=2, C=2, T=6, F=5, D=4, S=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(B, T, F, D, generator=g, requires_grad=True)
    lab = torch.randint(0, C, (B, T, F), generator=g)
    ibm = torch.nn.functional.one_hot(lab, C).permute(0, 3, 1, 2).float()
    table = torch.randn(S, D, generator=g, requires_grad=True)
    return v, ibm, table


def test_sce_pulls_bins_to_their_talker_and_trains_only_the_mixture_s_vectors():
    v, ibm, table = _toy()
    ids = torch.tensor([[1, 4], [2, 7]])
    loss = source_contrastive_loss(v, ibm, table, ids, torch.ones(2, 6, 5))
    loss.backward()
    used = table.grad.abs().sum(1) > 0
    assert used.tolist() == [i in (1, 4, 2, 7) for i in range(9)]
    assert v.grad.abs().sum() > 0 and math.isfinite(float(loss.detach()))
    # embeddings that sit on their dominant talker's vector (and away from the other) score lower
    with torch.no_grad():
        w = table[ids]  # (B, C, D)
        aligned = 5 * torch.einsum("bctf,bcd->btfd", 2 * ibm - 1, w)
    assert source_contrastive_loss(aligned, ibm, table, ids, torch.ones(2, 6, 5)) < loss


def test_sce_leaves_out_unknown_talkers_and_their_bins():
    v, ibm, table = _toy()
    all_unknown = source_contrastive_loss(v, ibm, table, torch.full((2, 2), -1), torch.ones(2, 6, 5))
    assert float(all_unknown) == 0.0
    ids = torch.tensor([[1, -1], [2, -1]])
    loss = source_contrastive_loss(v, ibm, table, ids, torch.ones(2, 6, 5))
    # moving a bin owned by the unknown talker changes nothing
    owned_by_unknown = ibm[:, 1].bool()
    v2 = v.detach().clone()
    v2[owned_by_unknown] += 10.0
    assert torch.allclose(source_contrastive_loss(v2, ibm, table, ids, torch.ones(2, 6, 5)), loss)


def test_silenced_loss_ignores_quiet_bins():
    v, ibm, table = _toy()
    ids = torch.tensor([[1, 4], [2, 7]])
    mag = torch.ones(2, 6, 5)
    mag[:, :, 0] = 1e-4  # 80 dB below the rest
    keep = silenced_weights(mag, 40.0)
    assert keep[:, :, 0].sum() == 0 and keep[:, :, 1:].all()
    loss = source_contrastive_loss(v, ibm, table, ids, keep)
    v2 = v.detach().clone()
    v2[:, :, 0] = torch.randn(2, 6, 4) * 100
    assert torch.allclose(source_contrastive_loss(v2, ibm, table, ids, keep), loss)
    assert not torch.allclose(source_contrastive_loss(v2, ibm, table, ids, torch.ones(2, 6, 5)),
                              source_contrastive_loss(v, ibm, table, ids, torch.ones(2, 6, 5)))


@pytest.mark.parametrize("sampling", ["random", "knn"])
def test_negative_sampling_never_draws_the_talker_itself(sampling):
    _, _, table = _toy(S=6)
    ids = torch.tensor([[0, 5], [3, 2], [1, 4]])
    for seed in range(20):
        neg = sample_negatives(table, ids, 5, sampling, torch.Generator().manual_seed(seed))
        assert neg.shape == (3, 2, 5)
        assert not (neg == ids.unsqueeze(-1)).any()
        assert all(len(set(row.tolist())) == 5 for row in neg.reshape(-1, 5))  # no repeats: every other speaker
    with pytest.raises(ValueError, match="0 < k"):
        sample_negatives(table, ids, 6)
    with pytest.raises(ValueError, match="sampling"):
        sample_negatives(table, ids, 2, "nearest")


def test_knn_negatives_are_the_nearest_speaker_vectors():
    table = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [0.0, 2.0], [9.0, 9.0]])
    neg = sample_negatives(table, torch.tensor([[0, 2]]), 2, "knn")
    assert set(neg[0, 0].tolist()) == {1, 3} and set(neg[0, 1].tolist()) == {1, 0}


def test_negative_sampling_adds_a_push_weighted_by_mu():
    v, ibm, table = _toy(S=9)
    ids = torch.tensor([[1, 4], [2, 7]])
    w = torch.ones(2, 6, 5)
    base = source_contrastive_loss(v, ibm, table, ids, w)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    small = source_contrastive_loss(v, ibm, table, ids, w, negatives=3, mu=0.1, generator=g())
    big = source_contrastive_loss(v, ibm, table, ids, w, negatives=3, mu=0.5, generator=g())
    assert base < small < big
    assert torch.allclose(big - base, 5 * (small - base), rtol=1e-4)


class NamedToneMixes(ToneMixes):
    """Tone mixtures whose talkers are 6 fixed 'speakers' (a pitch each), with speaker ids."""

    def __init__(self, n: int, known: bool = True) -> None:
        super().__init__(n)
        self.known = known
        self.speaker_index = {f"s{k}": k for k in range(6)} if known else {}

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i + 1000 * self.epoch)
        spk = torch.randperm(6, generator=g)[:2]
        src = self.tones(110 + 60 * spk)
        ids = spk if self.known else torch.full((2,), -1)
        return src.sum(0), src, ids


def test_trainer_trains_the_sce_term_with_the_danet_loss(tmp_path):
    cfg = load_recipe("danet_blstm", "cpu", {"curriculum": [[20, 2]], "batch_size": 4, "sce_weight": 1.0,
                                             "sce_negatives": 2, "sce_silence_db": 40.0})
    cfg.model_kwargs = {"hidden": 8, "layers": 1, "emb_dim": 6}
    trainer = Trainer(cfg, tmp_path / "m.pt", NamedToneMixes(8), NamedToneMixes(4, known=False))
    before = trainer.speaker_vectors.detach().clone()
    assert trainer.speaker_vectors.shape == (6, 6)
    trainer.fit()
    assert not torch.allclose(before, trainer.speaker_vectors.detach())  # the table is trained
    assert all(math.isfinite(h["valid_loss"]) for h in trainer.history)
    state = torch.load(trainer.state_path, weights_only=True)
    assert torch.equal(state["speaker_vectors"], trainer.speaker_vectors.detach())


def test_sce_weight_needs_speaker_ids(tmp_path):
    cfg = load_recipe("danet_blstm", "cpu", {"curriculum": [[10, 1]], "batch_size": 2, "sce_weight": 1.0})
    cfg.model_kwargs = {"hidden": 8, "layers": 1}
    with pytest.raises(ValueError, match="speaker ids"):
        Trainer(cfg, tmp_path / "m.pt", ToneMixes(4), ToneMixes(2))


@pytest.mark.parametrize("recipe", ["sce", "sce_ns", "sce_danet"])
def test_sce_recipes_train_and_the_checkpoint_separates_with_kmeans(recipe, tmp_path, tone_pair):
    from sepviz.checkpoint import load_checkpoint
    from sepviz.separate import separate

    cfg = load_recipe(recipe, "cpu", {"curriculum": [[20, 2]], "batch_size": 4})
    cfg.model_kwargs = {"hidden": 8, "layers": 1, "emb_dim": 6}
    cfg.sce_negatives = min(cfg.sce_negatives, 3)
    trainer = Trainer(cfg, tmp_path / "m.pt", NamedToneMixes(8), NamedToneMixes(4, known=False))
    path = trainer.fit()
    # unseen validation talkers: a pure SCE model is scored by the unit embeddings' affinity loss
    assert all(math.isfinite(h["valid_loss"]) and h["valid_loss"] > 0 for h in trainer.history)
    model = load_checkpoint(path)
    assert model.config.objective == cfg.objective
    mix, _ = tone_pair
    sep = separate(mix, 8000, model, clusterer="kmeans", n_speakers=2)
    assert len(sep.voices) == 2 and all(np.isfinite(v).all() for v in sep.voices)
