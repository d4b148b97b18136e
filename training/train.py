"""Train a seed system from its recipe.

    python -m training.train danet_blstm --profile cpu --out checkpoints/default.pt

Data: on-the-fly mixing (wsj0-2mix recipe) of the speaker-disjoint train split of the corpus;
validation on a fixed, seeded set of mixtures of the *validation* speakers.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .config import DataConfig, TrainConfig, load_recipe
from .trainer import Trainer


class CurriculumMix(torch.utils.data.Dataset):
    """Wraps a DynamicMixDataset so the trainer can change the chunk length per curriculum stage."""

    def __init__(self, utterances, n_speakers, items: int, seed: int, mode: str, fixed: bool = False) -> None:
        from .data.mixing import DynamicMixDataset

        self._make = lambda seg: DynamicMixDataset(utterances, n_speakers=n_speakers, segment_samples=seg,
                                                   epoch_size=items, seed=seed, mode=mode)
        self.fixed = fixed  # validation: same mixtures every epoch
        self.ds = self._make(6400)

    def set_segment(self, samples: int) -> None:
        if self.ds.segment_samples != samples:
            epoch = getattr(self.ds, "epoch", 0)
            self.ds = self._make(samples)
            self.ds.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        if not self.fixed:
            self.ds.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i]


def load_split_utterances(data: DataConfig, split: str):
    from .data import corpora, splits

    utts = corpora.CORPORA[data.corpus](data.root) if data.corpus != "fsdd" else corpora.fsdd()
    return splits.split_utterances(utts, split, seed=data.seed) if data.corpus != "fsdd" else utts


def summarise(utts) -> dict:
    speakers = {u.speaker: u.gender for u in utts}
    return {"speakers": len(speakers), "female": sum(g == "f" for g in speakers.values()),
            "utterances": len(utts)}


def build_datasets(cfg: TrainConfig):
    d = cfg.data
    n_spk = tuple(d.n_speakers) if len(d.n_speakers) > 1 else d.n_speakers[0]
    train_utts = load_split_utterances(d, "train")
    valid_utts = load_split_utterances(d, "valid")
    train = CurriculumMix(train_utts, n_spk, d.train_items_per_epoch, d.seed, d.mode)
    valid = CurriculumMix(valid_utts, n_spk, d.valid_items, d.seed + 1000, d.mode, fixed=True)
    summary = {"corpus": d.corpus, "root": d.root, "n_speakers": d.n_speakers, "mode": d.mode,
               "train": summarise(train_utts), "valid": summarise(valid_utts),
               "split": "speaker-disjoint (training.data.splits)", "mixing": "dynamic, 0-5 dB, wsj0-2mix recipe"}
    return train, valid, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe", help="recipe name (training/recipes/NAME.toml) or path")
    ap.add_argument("--profile", default=None, help="override table in the recipe, e.g. 'cpu'")
    ap.add_argument("--out", required=True, help="checkpoint to write")
    ap.add_argument("--root", default=None, help="corpus folder (default from the recipe)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a recipe key, e.g. --set batch_size=8 --set data.train_items_per_epoch=100")
    ap.add_argument("--resume", action="store_true", help="continue from OUT.state.pt if present")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    overrides: dict = {}
    for item in args.set:
        key, _, val = item.partition("=")
        node = overrides
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = json.loads(val)
    if args.root:
        overrides.setdefault("data", {})["root"] = args.root
    if args.max_minutes is not None:
        overrides["max_minutes"] = args.max_minutes
    cfg = load_recipe(args.recipe, args.profile, overrides)
    if args.threads:
        torch.set_num_threads(args.threads)
    train, valid, summary = build_datasets(cfg)
    print(f"training {cfg.name} ({cfg.model} {cfg.model_kwargs}, {cfg.objective}) on {summary['train']} "
          f"-> {args.out}", flush=True)
    trainer = Trainer(cfg, args.out, train, valid, device=args.device, data_summary=summary)
    if args.resume:
        trainer.try_resume()
    path = trainer.fit()
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
