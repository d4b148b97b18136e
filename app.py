#!/usr/bin/env python
"""sepviz studio: hear and see speech separation with the Deep Attractor Network family.

    python app.py [--checkpoints DIR] [--host 127.0.0.1] [--port 7860] [--max-seconds 60] [--share]

Tabs: **Separate** (voices, spectrograms, masks, the embedding cloud with attractors / anchors /
GMM ellipses, metrics when references are given), **Compare** (several clusterers on the same
cached embeddings, and the ideal-vs-estimated "center mismatch" view) and **Teaching** (what each
plot means, and the attractors of many mixtures in one PCA).

The network runs once per (audio, model, salient fraction): embeddings are cached, so changing
the clusterer, the projection or the plot settings only re-clusters / re-plots.  The main action
is also the API endpoint ``/separate`` (see docs/app.md).
"""
from __future__ import annotations

import argparse
import logging
import threading

from sepviz.clusterers import DEFAULT_CLUSTERER
from sepviz.studio import Studio, build_demo, launch_kwargs
from sepviz.studio.feedback import REFUSAL, api_handler
from sepviz.studio.settings import DEFAULT_MAX_FILE_SIZE, N_MAIN_OUTPUTS

# what tests and scripts use from here (the studio itself is the package sepviz.studio)
__all__ = ["DEFAULT_CLUSTERER", "N_MAIN_OUTPUTS", "REFUSAL", "Studio", "build_demo", "launch_kwargs", "main"]
_close = api_handler  # the tests' name for the API handlers' error wrapper
log = logging.getLogger("sepviz.app")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", default=None, help="folder of *.pt checkpoints (default $SEPVIZ_CHECKPOINTS or checkpoints/)")
    ap.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="longest accepted audio")
    ap.add_argument("--max-file-size", default=DEFAULT_MAX_FILE_SIZE, help="largest accepted upload, e.g. 25mb")
    ap.add_argument("--no-fsdd", action="store_true", help="do not make FSDD example mixtures")
    ap.add_argument("--no-warmup", action="store_true", help="skip the background UMAP JIT warm-up")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per request (default 1: two concurrent requests share 2 cores without "
                         "thread oversubscription)")
    args = ap.parse_args(argv)
    if args.threads > 0:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)  # BLAS / OpenMP (k-means, GMM) too
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    studio = Studio(args.checkpoints, max_seconds=args.max_seconds, include_fsdd=not args.no_fsdd)
    if not studio.models:
        log.warning(studio.no_models_message())
    threading.Thread(target=studio.warm_up, kwargs=dict(umap=not args.no_warmup), daemon=True).start()
    demo = build_demo(studio)
    demo.queue(default_concurrency_limit=2, max_size=32)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=args.max_file_size,
                **launch_kwargs(studio))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
