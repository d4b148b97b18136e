"""Utterance-level permutation invariant training (PIT) for the training losses.

A separator's outputs come in no fixed order, so a loss is taken under the pairing of outputs and
references that makes it smallest.  As in asteroid's ``losses/pit_wrapper.py``
(``PITLossWrapper(loss_func, pit_from="pw_mtx")``), a *pairwise* loss gives the matrix
``(B, C_est, C_ref)`` of every estimate against every reference and :func:`pit_min_permutation`
finds, per utterance, the permutation with the least total.

This is the training side (torch, differentiable, a minimum).  Scoring separated voices picks the
pairing with the *highest* SI-SNR instead: that is :func:`sepviz.metrics.best_pairing`.
"""
from __future__ import annotations

import itertools
from typing import Callable

import torch

PairwiseLoss = Callable[..., torch.Tensor]  # (est, ref, **kwargs) -> (B, C_est, C_ref)


def pit_min_permutation(pairwise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The permutation of least total loss per utterance.

    Args:
        pairwise: loss of estimate ``i`` against reference ``j``, ``(B, C_est, C_ref)`` with
            ``C_est == C_ref``.
    Returns:
        ``(loss, perm)``: the least total per utterance ``(B,)`` (it carries the gradient) and
        ``perm (B, C)`` long, where ``perm[b, i]`` is the reference matched to estimate ``i``.

    C <= 3 in this project, so trying all ``C!`` permutations at once is cheapest.
    """
    c = pairwise.shape[-1]
    perms = torch.tensor(list(itertools.permutations(range(c))), device=pairwise.device)  # (P, C)
    est_idx = torch.arange(c, device=pairwise.device)
    totals = pairwise[:, est_idx.unsqueeze(0).expand_as(perms), perms].sum(-1)  # (B, P)
    best_loss, best = totals.min(dim=1)
    return best_loss, perms[best]


class PITLossWrapper:
    """A pairwise loss made permutation invariant: the batch mean of each utterance's least total.

    Args:
        pairwise_loss: ``pairwise_loss(est, ref, **kwargs)`` -> ``(B, C_est, C_ref)``, the loss of
            every estimate against every reference (e.g. broadcasting ``est[:, :, None]`` against
            ``ref[:, None]``).

    Call it as ``pit(est, ref, **kwargs)`` with ``est, ref (B, C, ...)``; the keyword arguments go
    to ``pairwise_loss``.  Returns the scalar loss, or ``(loss, perm (B, C))`` with
    ``return_perm=True`` (``perm`` as in :func:`pit_min_permutation`).
    """

    def __init__(self, pairwise_loss: PairwiseLoss) -> None:
        self.pairwise_loss = pairwise_loss

    def __call__(self, est: torch.Tensor, ref: torch.Tensor, *, return_perm: bool = False,
                 **kwargs) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        loss, perm = pit_min_permutation(self.pairwise_loss(est, ref, **kwargs))
        return (loss.mean(), perm) if return_perm else loss.mean()
