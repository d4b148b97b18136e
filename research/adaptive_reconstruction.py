"""How well a pretrained adaptive front-end separates with oracle masks, next to the STFT's.

    python research/adaptive_reconstruction.py runs/adapt_pretrain_cpu.pt --n 24 --seconds 4 --threads 1

Rebuilds the checkpoint's validation mixtures (its recipe's data, unseen talkers) and prints the
mean SNR, SI-SNR and SI-SNRi (dB) of the talkers decoded from oracle masks on

- the pretrained front-end's latent: the pretraining's own masks ``X_j / sum X_j`` (what the
  autoencoder was trained on) and the ideal binary mask (the best a deep-clustering net can give);
- the same front-end untrained (its initialisation, an STFT-like bank: how much pretraining adds);
- the STFT with the mixture's phase: the same two masks on ``|S_j|``, the reference the front-end
  has to beat.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sepviz.checkpoint import read_checkpoint  # noqa: E402
from sepviz.features import istft, stft  # noqa: E402
from sepviz.frontend import FrontendAutoencoder, source_masks  # noqa: E402
from sepviz.losses import si_snr_db  # noqa: E402
from sepviz.masks import ideal_binary_mask  # noqa: E402
from sepviz.threads import limit_threads  # noqa: E402
from training.config import DataConfig, TrainConfig  # noqa: E402
from training.train import build_datasets  # noqa: E402


def snr_db(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10((ref ** 2).sum(-1) / ((est - ref) ** 2).sum(-1).clamp_min(1e-12))


def latent_voices(fe, mix: torch.Tensor, src: torch.Tensor, binary: bool) -> torch.Tensor:
    lat, idx = fe.encode(mix)
    s_lat, _ = fe.encode(src.reshape(-1, src.shape[-1]))
    s_lat = s_lat.reshape(*src.shape[:2], *s_lat.shape[1:])
    masks = ideal_binary_mask(s_lat) if binary else source_masks(s_lat)
    return fe.decode(masks * lat.unsqueeze(1), idx.unsqueeze(1), mix.shape[-1])


def stft_voices(mix: torch.Tensor, src: torch.Tensor, binary: bool) -> torch.Tensor:
    spec, s = stft(mix), stft(src)
    masks = ideal_binary_mask(s) if binary else source_masks(s.abs())
    return istft(masks * spec.unsqueeze(1), mix.shape[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="a pretraining checkpoint (recipe adapt_pretrain)")
    ap.add_argument("--n", type=int, default=24, help="validation mixtures")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    limit_threads(args.threads)
    payload = read_checkpoint(args.checkpoint)
    trained = FrontendAutoencoder(payload["config"]["frontend"])
    trained.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    untrained = FrontendAutoencoder(payload["config"]["frontend"])
    recipe = dict(payload["training"]["recipe"])
    data = DataConfig(**{**recipe.pop("data"), "valid_items": args.n})
    _, valid, _ = build_datasets(TrainConfig(**{**recipe, "data": data}))
    valid.set_segment(int(args.seconds * 8000))
    rows = {name: [] for name in ("front-end, X_j / sum X_j", "front-end, binary", "untrained, X_j / sum X_j",
                                  "untrained, binary", "STFT, |S_j| / sum |S_j|", "STFT, binary")}
    with torch.no_grad():
        for i in range(args.n):
            mix, src = valid[i][0].unsqueeze(0).float(), valid[i][1].unsqueeze(0).float()
            for name in rows:
                binary = name.endswith("binary")
                if name.startswith("STFT"):
                    est = stft_voices(mix, src, binary)
                else:
                    fe = (trained if name.startswith("front-end") else untrained).frontend
                    est = latent_voices(fe, mix, src, binary)
                sisnr = si_snr_db(est, src)
                rows[name].append(torch.stack([snr_db(est, src), sisnr, sisnr - si_snr_db(mix.unsqueeze(1).expand_as(src), src)], -1))
    print(f"{args.checkpoint}: {args.n} validation mixtures of {args.seconds:g} s, oracle masks, mean dB")
    print(f"{'masks':28s} {'SNR':>7s} {'SI-SNR':>7s} {'SI-SNRi':>8s}")
    for name, vals in rows.items():
        m = torch.cat(vals).reshape(-1, 3).mean(0)
        print(f"{name:28s} {m[0]:7.2f} {m[1]:7.2f} {m[2]:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
