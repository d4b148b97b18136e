"""Data-parallel training (torchrun, Gloo on CPU), gradient accumulation and precomputed mixture folders.

Tiny models on tiny generated tone/noise folders only; the two-process run takes about 15-30 s
on a busy 2-core CPU.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import write_wsj0_2mix
from sepviz.checkpoint import load_checkpoint
from training import train as train_module
from training.config import load_recipe
from training.distributed import DistContext, RankShare, batch_plan
from training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]

TINY_RECIPE = """
model = "blstm"
objective = "danet"
batch_size = 4
lr = 3e-3
curriculum = [[20, {epochs}]]
[model_kwargs]
hidden = 16
layers = 1
emb_dim = 8
[data]
corpus = "wsj0mix"
root = "{root}"
"""


@pytest.fixture(scope="module")
def precomputed(tmp_path_factory):
    """A wsj0-2mix-layout corpus: ``tr/`` (16 mixtures) and ``cv/`` (4), 1 s at 8 kHz."""
    root = tmp_path_factory.mktemp("wsj0mix")
    write_wsj0_2mix(root / "tr", n_mixtures=16, seconds=1.0, sr=8000)
    write_wsj0_2mix(root / "cv", n_mixtures=4, seconds=1.0, sr=8000)
    return root


def _recipe(tmp_path: Path, root: Path, epochs: int) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_RECIPE.format(epochs=epochs, root=root.as_posix()))
    return path


def test_batch_plan_keeps_the_recipe_batch_whatever_the_process_count():
    assert batch_plan(16) == batch_plan(16, 1, 0)  # a plain run: one pass of the whole batch
    assert (batch_plan(16).micro_batch, batch_plan(16).accumulation) == (16, 1)
    for world, micro, passes in ((2, 0, 1), (4, 2, 2), (8, 1, 2), (16, 0, 1)):
        plan = batch_plan(16, world, micro)
        assert plan.accumulation == passes and plan.micro_batch * plan.accumulation * world == 16
    with pytest.raises(ValueError, match="does not split over 3 processes"):
        batch_plan(16, 3)
    with pytest.raises(ValueError, match="passes of 3"):
        batch_plan(16, 2, 3)


def test_ranks_draw_disjoint_slices_of_the_single_process_batches():
    """Of every update's batch (the shuffle one process draws), rank r of N takes the r-th slice:
    the ranks mix different dynamic mixtures and, together, the batches of one process."""
    order = list(torch.randperm(26, generator=torch.Generator().manual_seed(3)))
    shares = [list(RankShare(order, 8, DistContext(r, 2))) for r in (0, 1)]
    assert len(RankShare(order, 8, DistContext(1, 2))) == len(shares[1]) == 12  # 3 whole batches of 8
    assert not set(shares[0]) & set(shares[1])
    for k in range(3):  # update k: rank 0's 4 items and rank 1's 4 items are one process's batch k
        assert shares[0][4 * k: 4 * k + 4] + shares[1][4 * k: 4 * k + 4] == order[8 * k: 8 * k + 8]
    with pytest.raises(ValueError, match="does not split"):
        RankShare(order, 8, DistContext(0, 3))


def test_accumulated_passes_make_the_update_of_one_batch(tmp_path, precomputed):
    """--micro-batch 1: four passes per update of batch_size 4 give the weights of one pass of 4."""
    cfg = load_recipe(str(_recipe(tmp_path, precomputed, 2)))

    def trained(micro: int, name: str) -> dict:
        train, valid, summary = train_module.build_datasets(cfg)
        trainer = Trainer(cfg, tmp_path / name, train, valid, data_summary=summary, micro_batch=micro)
        assert trainer.batches.accumulation == (4 if micro else 1)
        trainer.fit()
        assert trainer.steps == 8  # 16 mixtures / 4 per update, 2 epochs
        return trainer.model.state_dict()

    whole, passes = trained(0, "whole.pt"), trained(1, "passes.pt")
    for k, v in whole.items():
        assert torch.allclose(v, passes[k], atol=1e-5), k
    card = load_checkpoint(tmp_path / "passes.pt").card["training"]
    assert card["distributed"] == {"world_size": 1, "backend": None, "batch_size": 4, "micro_batch": 1,
                                   "accumulation": 4}
    assert "distributed" not in load_checkpoint(tmp_path / "whole.pt").card["training"]  # a plain run's card


def _torchrun(tmp_path: Path, recipe: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "training.train", str(recipe), "--device", "cpu", "--out", str(tmp_path / "ddp.pt"), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=240)


def test_two_gloo_processes_lower_the_loss_resume_and_write_a_checkpoint_that_loads(tmp_path, precomputed):
    r = _torchrun(tmp_path, _recipe(tmp_path, precomputed, 5))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "on 2 processes (gloo; each update's 4 items: 2 per process" in r.stdout
    assert r.stdout.count("wrote ") == 1  # rank 0 alone reports
    log = [json.loads(line) for line in (tmp_path / "ddp.log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in log] == list(range(5))  # one log, written by rank 0 only
    assert log[-1]["steps"] == 5 * 4  # 16 mixtures / a global batch of 4 (2 per rank) per update
    assert log[-1]["train_loss"] < 0.7 * log[0]["train_loss"]
    assert min(h["valid_loss"] for h in log) < log[0]["valid_loss"]

    # --resume on both ranks continues from rank 0's state: two more epochs, not seven
    r = _torchrun(tmp_path, _recipe(tmp_path, precomputed, 7), "--resume")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert r.stdout.count("resumed from") == 1 and "at stage 0, epoch 5" in r.stdout
    model = load_checkpoint(tmp_path / "ddp.pt")
    card = model.card["training"]
    assert card["epochs"] == 7 and card["steps"] == 7 * 4 and model.has_fixed_attractors
    assert card["distributed"] == {"world_size": 2, "backend": "gloo", "batch_size": 4, "micro_batch": 2,
                                   "accumulation": 1}
    assert card["data"]["corpus"] == "wsj0mix" and card["data"]["train"]["mixtures"] == 16

    # Two ranks of 2 items make the updates of one process of 4: the same weights.
    cfg = load_recipe(str(_recipe(tmp_path, precomputed, 7)))
    train, valid, summary = train_module.build_datasets(cfg)
    one = Trainer(cfg, tmp_path / "one.pt", train, valid, data_summary=summary)
    one.fit()
    ranks = torch.load(tmp_path / "ddp.state.pt", weights_only=True)["model"]
    for k, v in torch.load(tmp_path / "one.state.pt", weights_only=True)["model"].items():
        assert torch.allclose(v, ranks[k], atol=1e-4), k


def test_a_recipe_trains_on_a_precomputed_folder_read_lazily(tmp_path, precomputed, monkeypatch):
    from training.data import corpora

    loads = []
    real_load = corpora.MixtureExample.load
    monkeypatch.setattr(corpora.MixtureExample, "load", lambda self, *a, **k: loads.append(self.name) or
                        real_load(self, *a, **k))
    cfg = load_recipe(str(_recipe(tmp_path, precomputed, 1)), overrides={"data": {"valid_items": 2}})
    train, valid, summary = train_module.build_datasets(cfg)
    assert not loads  # listing the folders reads no audio
    assert len(train) == summary["items_per_epoch"] == 16 and len(valid) == 2
    train.set_segment(2000)
    first = train[3]
    assert loads == ["mix03"] and first[0].shape == (2000,) and first[1].shape == (2, 2000)
    assert torch.equal(train[3][0], first[0])  # the same chunk within an epoch
    train.set_epoch(1)
    assert not torch.equal(train[3][0], first[0])  # another chunk of the 1 s mixture the next epoch
    valid.set_segment(2000)
    assert torch.equal(valid[1][0], valid[1][0]) and [ex.name for ex in valid.examples] == ["mix00", "mix03"]
    bad = load_recipe(str(_recipe(tmp_path, precomputed, 1)), overrides={"data": {"valid_dir": "nowhere"}})
    with pytest.raises(ValueError, match="wsj0mix folder not found"):
        train_module.build_datasets(bad)
    assert train_module.main([str(_recipe(tmp_path, precomputed, 1)), "--out", str(tmp_path / "x.pt"),
                              "--set", 'data.valid_dir="nowhere"']) == 2  # a one-line error, no traceback
