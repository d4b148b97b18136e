"""The thread policy of a sepviz process: how many threads torch and the BLAS/OpenMP pools get.

Why a policy at all: on a shared or busy machine an OpenMP thread that waits for a busy core makes
torch and BLAS run 10-100x slower than one thread per process, and sklearn's OpenMP/BLAS pools
fight torch's own OpenMP runtime (on a 2-core CPU k-means and the GMM ran 4-8x slower
multi-threaded than on one thread).  So a command that is told ``--threads N`` limits both with
:func:`limit_threads`, the small clusterer fits run under :func:`one_blas_thread`, and a child
process is started with :func:`single_thread_env`.
"""
from __future__ import annotations

import os
from typing import Mapping


def limit_threads(n: int) -> None:
    """``n`` torch threads and ``n`` BLAS/OpenMP threads (k-means, GMMs, numpy) in this process."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)


def one_blas_thread():
    """A context manager: one BLAS/OpenMP thread inside it (the clusterers' fits are small)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def single_thread_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a child process that runs one OpenMP thread."""
    return dict(os.environ if env is None else env, OMP_NUM_THREADS="1")
