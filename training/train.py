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

import numpy as np
import torch

from .config import TrainConfig, load_recipe
from .trainer import Trainer


class CurriculumMix(torch.utils.data.Dataset):
    """On-the-fly mixtures whose chunk length the trainer changes per curriculum stage.

    ``pools`` is a list of ``(utterances, probability)``: each item is drawn from one pool (e.g.
    the synthetic corpus, or FSDD real speech for fine-tuning) with the given probability.
    ``speaker_index`` (speaker -> row) makes items carry speaker ids (:class:`DynamicMixDataset`).
    """

    def __init__(self, pools, n_speakers, items: int, seed: int, mode: str, fixed: bool = False,
                 speed_perturb: float = 0.0, eq_perturb: float = 0.0, reverb: float = 0.0, noise: float = 0.0,
                 speaker_index: dict[str, int] | None = None) -> None:
        from .data.mixing import DynamicMixDataset, formable_counts

        counts = (n_speakers,) if isinstance(n_speakers, int) else tuple(n_speakers)
        bank = None
        if reverb > 0:
            from .data.rooms import load_bank

            bank = load_bank()  # one bank for every pool
        self.sets = [DynamicMixDataset(u, n_speakers=formable_counts(u, counts), segment_samples=6400,
                                       epoch_size=items, seed=seed + 7919 * k, mode=mode, speed_perturb=speed_perturb,
                                       eq_perturb=eq_perturb, n_rows=max(counts), reverb=reverb, noise=noise,
                                       rir_bank=bank, speaker_index=speaker_index)
                     for k, (u, _) in enumerate(pools)]
        self.speaker_index = speaker_index
        probs = torch.tensor([p for _, p in pools], dtype=torch.float64)
        self.cum = (probs / probs.sum()).cumsum(0)
        self.items, self.seed, self.fixed, self.epoch = items, seed, fixed, 0

    def set_segment(self, samples: int) -> None:
        for ds in self.sets:
            ds.segment_samples = samples

    def set_epoch(self, epoch: int) -> None:
        if not self.fixed:  # validation: the same mixtures every epoch
            self.epoch = epoch
            for ds in self.sets:
                ds.set_epoch(epoch)

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, i):
        u = float(np.random.default_rng([self.seed, self.epoch, int(i), 17]).random())
        k = int(torch.searchsorted(self.cum, torch.tensor(u, dtype=torch.float64)).clamp(max=len(self.sets) - 1))
        return self.sets[k][i]


def _pooled(d) -> tuple[list, list, dict]:
    """Training and validation pools of ``data.pools``, and their summary for the model card."""
    from .data import corpora, splits

    names = [str(n) for n, _ in d.pools]
    unknown = sorted(set(names) - set(corpora.CORPORA) - {"union"})
    if unknown:
        raise ValueError(f"data.pools names unknown corpora {unknown}; choose from {sorted(corpora.CORPORA)} or 'union'")
    parts: dict[str, dict[str, list]] = {}
    for name in dict.fromkeys(n for n in names if n != "union"):
        utts = corpora.CORPORA[name](d.root) if name == "synth" else corpora.CORPORA[name]()
        scheme = {"fsdd_scheme": "finetune"} if name == "fsdd" else {}
        parts[name] = {s: splits.split_utterances(utts, s, seed=d.seed, **scheme) for s in ("train", "valid")}
    union_train = [u for p in parts.values() for u in p["train"]]
    train = [(union_train if n == "union" else parts[n]["train"], float(w)) for n, w in d.pools]
    valid = [(parts[n]["valid"], float(w)) for n, w in d.pools if n != "union" and len({
        u.speaker for u in parts[n]["valid"]}) >= 2]
    summary = {name: {"train": splits.describe(p["train"], hours=True), "valid": splits.describe(p["valid"])}
               for name, p in parts.items()}
    total = sum(float(w) for _, w in d.pools)
    summary["weights"] = {n: round(float(w) / total, 4) for n, w in d.pools}
    return train, valid, summary


def speaker_index(pools) -> dict[str, int]:
    """Speaker name -> row of the source-contrastive speaker table, over every training pool."""
    return {s: i for i, s in enumerate(sorted({u.speaker for pool, _ in pools for u in pool}))}


def build_datasets(cfg: TrainConfig):
    from .data import corpora, splits

    d = cfg.data
    n_spk = tuple(d.n_speakers) if len(d.n_speakers) > 1 else d.n_speakers[0]
    if d.pools:
        if d.finetune_fsdd_fraction or d.fsdd_shifts:
            raise ValueError("data.pools names FSDD itself: leave finetune_fsdd_fraction and fsdd_shifts at 0")
        train_pools, valid_pools, pools = _pooled(d)
        summary = {"corpus": "+".join(dict.fromkeys(n for n, _ in d.pools if n != "union")), "pools": pools,
                   "n_speakers": d.n_speakers, "mode": d.mode, "split": "speaker-disjoint (training.data.splits)",
                   "mixing": "dynamic, 0-5 dB, wsj0-2mix recipe", "items_per_epoch": d.train_items_per_epoch,
                   "train": splits.describe([x for pool, _ in train_pools for x in pool]),
                   "valid": splits.describe([x for pool, _ in valid_pools for x in pool])}
        for key in ("speed_perturb", "eq_perturb", "reverb", "noise"):
            if getattr(d, key):
                summary[key] = getattr(d, key)
        mix_seed = d.seed if d.mix_seed is None else d.mix_seed
        index = speaker_index(train_pools) if cfg.sce_weight else None
        train = CurriculumMix(train_pools, n_spk, d.train_items_per_epoch, mix_seed, d.mode,
                              speed_perturb=d.speed_perturb, eq_perturb=d.eq_perturb, reverb=d.reverb, noise=d.noise,
                              speaker_index=index)
        # validation talkers are unseen: they have no speaker vector (ids -1), so the
        # source-contrastive term adds nothing there and the validation loss stays comparable
        valid = CurriculumMix(valid_pools, n_spk, d.valid_items, d.seed + 1000, d.mode, fixed=True,
                              speaker_index={} if index is not None else None)
        return train, valid, summary
    if d.reverb or d.noise:
        raise ValueError("data.reverb and data.noise need data.pools")
    utts = corpora.CORPORA[d.corpus](d.root)
    parts = {s: splits.split_utterances(utts, s, seed=d.seed) for s in ("train", "valid")}
    train_pools, valid_pools = [(parts["train"], 1.0 - d.finetune_fsdd_fraction)], [(parts["valid"], 1.0)]
    summary = {"corpus": d.corpus, "root": d.root, "n_speakers": d.n_speakers, "mode": d.mode,
               "train": splits.describe(parts["train"]), "valid": splits.describe(parts["valid"]),
               "split": "speaker-disjoint (training.data.splits)",
               "mixing": "dynamic, 0-5 dB, wsj0-2mix recipe", "items_per_epoch": d.train_items_per_epoch}
    if d.speed_perturb:
        summary["speed_perturb"] = d.speed_perturb
    if d.eq_perturb:
        summary["eq_perturb_db"] = d.eq_perturb
    if d.fsdd_shifts and not d.finetune_fsdd_fraction > 0:
        raise ValueError("data.fsdd_shifts copies the FSDD fine-tuning talkers: set data.finetune_fsdd_fraction > 0 too")
    if d.finetune_fsdd_fraction > 0:
        fs = corpora.fsdd()
        fs_train = splits.split_utterances(fs, "train", fsdd_scheme="finetune")
        fs_valid = splits.split_utterances(fs, "valid", fsdd_scheme="finetune")
        if d.fsdd_shifts:
            fs_train = fs_train + corpora.shifted_speakers(fs_train, d.fsdd_shifts, seed=d.seed)
        # FSDD speakers also join the synthetic pool, so real voices meet synthetic ones too.
        train_pools = [(parts["train"] + fs_train, 1.0 - d.finetune_fsdd_fraction), (fs_train, d.finetune_fsdd_fraction)]
        valid_pools = [(parts["valid"], 1.0 - d.finetune_fsdd_fraction), (fs_valid, d.finetune_fsdd_fraction)]
        summary["fsdd_finetune"] = {"fraction": d.finetune_fsdd_fraction, "speakers": sorted({u.group or u.speaker for u in fs_train}),
                                    "utterances": len(fs_train), "scheme": "finetune (test speakers held out)",
                                    "shifted_copies_per_talker": d.fsdd_shifts}
    mix_seed = d.seed if d.mix_seed is None else d.mix_seed
    index = speaker_index(train_pools) if cfg.sce_weight else None
    train = CurriculumMix(train_pools, n_spk, d.train_items_per_epoch, mix_seed, d.mode, speed_perturb=d.speed_perturb,
                          eq_perturb=d.eq_perturb, speaker_index=index)
    valid = CurriculumMix(valid_pools, n_spk, d.valid_items, d.seed + 1000, d.mode, fixed=True,
                          speaker_index={} if index is not None else None)
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
    try:
        train, valid, summary = build_datasets(cfg)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:  # a missing corpus or a bad data setting
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
