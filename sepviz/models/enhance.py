"""The DPCL++ enhancement layer (Isik et al. 2016; D'Amato 2018, ch. 2): refine clustered masks.

After the clusterer has given every talker a mask, a small BLSTM reads the mixture and each
masked estimate and returns better masks. One network serves every talker (weights shared over
the estimates), and a softmax across the talkers keeps the masks summing to one, so the voices
still add up to the mixture.
"""
from __future__ import annotations

import torch
from torch import nn

LOG_EPS = 1e-8


class Enhancer(nn.Module):
    """Mask refinement ``(mag (B, T, F), masks (B, C, T, F)) -> masks (B, C, T, F)``.

    Args:
        n_freq: frequency bins F of the STFT.
        hidden: BLSTM units per direction.
        layers: BLSTM layers.
        dropout: between BLSTM layers.

    Input per talker c: the mixture's log magnitude and the estimate's, ``log(M_c |X|)``, both
    normalised by the mixture's per-utterance mean and deviation (gain-invariant, as the
    embedding network's input), stacked to ``(T, 2F)``. The output logits of all talkers go
    through a softmax over C.
    """

    def __init__(self, n_freq: int = 129, hidden: int = 300, layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_freq = n_freq
        self.rnn = nn.LSTM(2 * n_freq, hidden, layers, batch_first=True, bidirectional=True,
                           dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(2 * hidden, n_freq)

    def forward(self, mag: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """
        Args:
            mag: mixture magnitude ``(B, T, F)``.
            masks: the clusterer's masks ``(B, C, T, F)``, summing to one over C.
        Returns:
            refined masks ``(B, C, T, F)``, summing to one over C.
        """
        b, c, t, f = masks.shape
        log_mix = torch.log(mag + LOG_EPS)
        mean = log_mix.mean(dim=(-2, -1), keepdim=True)
        std = log_mix.std(dim=(-2, -1), keepdim=True).clamp_min(1e-5)
        mix_in = ((log_mix - mean) / std).unsqueeze(1).expand(b, c, t, f)
        est_in = (torch.log(masks * mag.unsqueeze(1) + LOG_EPS) - mean.unsqueeze(1)) / std.unsqueeze(1)
        x = torch.cat([mix_in, est_in], dim=-1).reshape(b * c, t, 2 * f)
        h, _ = self.rnn(x)
        logits = self.out(h).reshape(b, c, t, f)
        return torch.softmax(logits, dim=1)
