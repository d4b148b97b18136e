"""The studio's cached pipeline: the network runs once per (audio, model, salient fraction); the
clusterings, projections, references, metrics and atlases made from its embeddings are cached too,
and the files a separation serves (voices, selections, exports) are written once into a work folder."""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import zipfile
from pathlib import Path

import gradio.utils
import numpy as np

from sepviz import export, viz
from sepviz.errors import SepvizError, SepvizInputError
from sepviz.examples import Example, list_atlas_examples, list_examples

from .cache import LRU, file_sha1
from .feedback import REFUSAL, log, progress_step
from .models import Checkpoints
from .settings import (ALL_CLUSTERERS, MAX_VOICE_FOLDERS, REF_TOLERANCE_S, WEIGHTED_CLUSTERERS, parse_n_speakers,
                       parse_projection)


def evaluate(voices: list[np.ndarray], refs: list[np.ndarray], mixture: np.ndarray, sr: int) -> dict:
    """Per-voice SI-SNRi, SDRi, SIR, SAR (permutation-invariant, :mod:`sepviz.metrics`), matched to
    the references: ``{"rows": [{"voice", "reference", "si_snri", "sdri", "sir", "sar"}...], "means": {...}}``."""
    from sepviz.metrics import evaluate_estimates

    est = np.stack([np.asarray(v, np.float64) for v in voices])
    src = np.stack([np.asarray(r, np.float64)[: est.shape[1]] for r in refs])
    n = min(est.shape[1], src.shape[1])
    est, src, mix = est[:, :n], src[:, :n], np.asarray(mixture, np.float64)[:n]
    out = evaluate_estimates(est, src, mix, sr, pesq=False)
    perm = out["permutation"]
    rows = [{"voice": int(perm[i]) + 1, "reference": i + 1,
             **{k: float(out[k][i]) for k in ("si_snri", "sdri", "sir", "sar")}} for i in range(len(perm))]
    return {"rows": rows, "means": {k: float(out["mean"][k]) for k in ("si_snri", "sdri", "sir", "sar")}}


def grid_kw(emb) -> dict:
    """The time-frequency grid of ``emb``'s spectrogram, as the figures and exports take it."""
    cfg = emb.stft_config
    return dict(seconds_per_frame=cfg.hop_length / cfg.sample_rate, hz_per_bin=cfg.sample_rate / cfg.n_fft)


def filter_order(emb) -> np.ndarray | None:
    """For a model with an adaptive front-end, its filters from the lowest centre frequency up (the
    rows of the latent's figures); None for the STFT."""
    if emb.frontend is None:
        return None
    return emb.model.frontend.sort_order().cpu().numpy()


def filter_centres(emb) -> np.ndarray | None:
    """For a model with an adaptive front-end, each filter's centre frequency in Hz ``(F,)``, in
    the latent's stored row order (what a cloud's point or an exported bin names its row by);
    None for the STFT, whose rows are frequencies themselves."""
    if emb.frontend is None:
        return None
    return emb.model.frontend.centre_frequencies().cpu().numpy().astype(np.float32)


class Pipeline(Checkpoints):
    """The cached separation pipeline over a folder of checkpoints (no page, no events)."""

    def __init__(self, checkpoints: str | os.PathLike | None = None, *, max_seconds: float = 60.0,
                 examples: dict[str, Example] | None = None, include_fsdd: bool = True,
                 work_dir: str | os.PathLike | None = None,
                 read_dirs: list[str | os.PathLike] = ()) -> None:
        """``read_dirs``: folders besides Gradio's upload cache whose files the handlers may read
        (tests and scripts that call the handlers with their own files); the examples' own files
        are always readable."""
        super().__init__(checkpoints)
        self.read_dirs = [Path(d) for d in read_dirs]
        self.max_seconds = float(max_seconds)
        self.include_fsdd = include_fsdd
        self.examples = examples if examples is not None else list_examples(include_fsdd)
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="sepviz-app-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._emb = LRU(6)
        self._sep = LRU(24)
        self._refs = LRU(12)
        self._truth = LRU(12)
        self._clouds = LRU(12)
        self._metrics = LRU(24)
        self._atlas = LRU(4)
        self.network_runs = 0   # how often the embedding network ran (the cache is tested on this)
        self.umap_ready = threading.Event()
        self._warming = False

    # ------------------------------------------------------------------ what may be read
    def readable(self, path):
        """``path`` (resolved) when the handlers may read it; else SepvizInputError(:data:`REFUSAL`).

        Readable: files in Gradio's upload cache (where every upload, and every example the UI
        picked, lands), the examples' own files, and ``read_dirs``.  Links are followed first, so
        a link in the cache to a file elsewhere is elsewhere.  A missing file gets the same answer
        as a forbidden one."""
        if not path:
            return path
        try:
            real = Path(os.path.realpath(os.fspath(path)))
            ok = real.is_file()
        except (TypeError, ValueError, OSError):
            ok = False
        if ok:
            roots = [gradio.utils.get_upload_folder(), *self.read_dirs]
            files = {Path(os.path.realpath(f)) for ex in self.examples.values() for f in (ex.mix, *ex.sources)}
            if real in files or any(real.is_relative_to(os.path.realpath(r)) for r in roots):
                return str(real)
        raise SepvizInputError(REFUSAL)

    # ------------------------------------------------------------------ cached pipeline
    def get_embedding(self, audio_path: str, model_name: str | None, keep: float | None):
        from sepviz.separate import embed

        model = self.get_model(model_name)
        keep = float(model.config.keep if keep in (None, 0) else keep)
        if not 0.05 <= keep <= 1.0:
            raise SepvizInputError(f"the salient fraction must be between 0.05 and 1, got {keep}")
        mpath = self.models[model_name or self.default_model]
        key = (file_sha1(audio_path), str(mpath), mpath.stat().st_mtime, round(keep, 3), self.max_seconds)
        with self._lock:
            hit = self._emb.get_(key)
        if hit is not None:
            return hit, key, True
        emb = embed(audio_path, None, model, keep=keep, max_seconds=self.max_seconds)
        with self._lock:
            self.network_runs += 1
            self._emb.put(key, emb)
        return emb, key, False

    def get_references(self, paths: list[str], emb) -> tuple[list[np.ndarray] | None, str | None]:
        from sepviz.audio import load_audio

        paths = [p for p in paths if p]
        if not paths:
            return None, None
        if len(paths) == 1:
            raise SepvizInputError("give at least two reference sources (s1 and s2), or none")
        key = "|".join(file_sha1(p) for p in paths) + f"@{len(emb.wave)}"
        with self._lock:
            hit = self._refs.get_(key)
        if hit is not None:
            return hit, key
        sr = emb.stft_config.sample_rate
        refs = []
        for i, p in enumerate(paths, 1):
            try:
                w, _ = load_audio(p, target_sr=sr, max_seconds=self.max_seconds)
            except SepvizInputError as err:
                raise SepvizInputError(f"reference s{i}: {err}") from None
            if abs(len(w) - len(emb.wave)) > REF_TOLERANCE_S * sr:
                raise SepvizInputError(f"reference s{i} is {len(w) / sr:.2f} s long but the mixture is "
                                       f"{len(emb.wave) / sr:.2f} s: references must be the isolated sources "
                                       f"of this mixture")
            w = np.pad(w, (0, max(0, len(emb.wave) - len(w))))[: len(emb.wave)]
            refs.append(w.astype(np.float32))
        with self._lock:
            self._refs.put(key, refs)
        return refs, key

    def get_separation(self, emb, emb_key, clusterer: str, n_speakers, beta: float, refs, refs_key,
                       weighting: str | bool | None = "auto", tracking: str = "model"):
        """Cluster cached embeddings (cached by every setting that changes the voices).

        ``tracking``: "model" lets the attractors follow the talkers as the checkpoint was
        calibrated (sepviz.tracking); "off" keeps one attractor per talker."""
        from sepviz.clusterers import available_clusterers
        from sepviz.separate import FIT_WEIGHTINGS, resolve_weighting, separate_embedding

        available = available_clusterers(emb.model, refs is not None)
        if clusterer not in available:
            if clusterer == "oracle":
                raise SepvizInputError("the oracle clusterer needs the reference sources (s1, s2[, s3])")
            if clusterer in ALL_CLUSTERERS:
                raise SepvizInputError(f"the {clusterer!r} clusterer is not available for this model "
                                       f"(available: {', '.join(available)})")
            raise SepvizInputError(f"unknown clusterer {clusterer!r}; choose one of {', '.join(available)}")
        n = parse_n_speakers(n_speakers)
        if refs is not None:
            if n is None:
                n = len(refs)
            elif n != len(refs):
                raise SepvizInputError(f"{len(refs)} reference sources were given, so the mixture has "
                                       f"{len(refs)} talkers: set the number of speakers to {len(refs)} or auto")
        beta = float(beta or 10.0)
        if weighting in (None, True, False):  # a bare on/off (older callers, the API)
            weighting = {None: "auto", True: "loudness", False: "none"}[weighting]
        if weighting not in FIT_WEIGHTINGS:
            raise SepvizInputError(f"unknown fit weighting {weighting!r}; choose one of {', '.join(FIT_WEIGHTINGS)}")
        if tracking not in ("model", "off"):
            raise SepvizInputError(f"unknown attractor tracking {tracking!r}; choose 'model' or 'off'")
        if n is not None:  # "auto" with a known count is the same fit as its resolution: share the cache
            weighting = resolve_weighting(weighting, n)
        # tracked masks weigh the bins as the fit does, whatever the clusterer
        tracks = tracking == "model" and clusterer != "oracle" and bool(emb.model.config.attractor_tracking)
        key = (emb_key, clusterer, n, round(beta, 3) if clusterer == "soft_kmeans" else None,
               refs_key if clusterer == "oracle" else None,
               weighting if clusterer in WEIGHTED_CLUSTERERS or tracks else None, tracks)
        with self._lock:
            hit = self._sep.get_(key)
        if hit is not None:
            return hit, key
        sep = separate_embedding(emb, clusterer, n, beta=beta, references=refs if clusterer == "oracle" else None,
                                 weighting=weighting, tracking="config" if tracks else None)
        with self._lock:
            self._sep.put(key, sep)
        return sep, key

    def move_axes(self, emb, emb_key, projection, n_points, trange) -> tuple[np.ndarray, np.ndarray]:
        """The directions an attractor moves along: the first two principal axes of the shown bins'
        embeddings (with a PCA projection the cloud's own x and y), ``(W (2, K), spread (2,))``, the
        spread being the bins' standard deviation along each axis (the sliders' unit)."""
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        pts = emb.v.numpy().reshape(-1, emb.v.shape[-1])[cloud.index]
        proj = cloud.projector if cloud.projector.linear else viz.fit_pca(pts, 2)
        w = np.asarray(proj.components[:2], np.float64)
        spread = ((pts - proj.mean) @ w.T).std(axis=0)
        return w, spread

    def moved(self, sep, key, emb, emb_key, projection, n_points, trange, which, along1, along2):
        """``sep`` with attractor ``which`` (1-based) moved ``along1`` / ``along2`` spreads along the
        principal axes (:meth:`move_axes`), and its cache key: ``(sep, key, note)``; unmoved when
        both are 0.  Recomputed from the cached embeddings: the network does not run."""
        try:
            a, b, i = float(along1 or 0.0), float(along2 or 0.0), int(which or 1) - 1
        except (TypeError, ValueError):
            raise SepvizInputError(f"an attractor moves by numbers, not {along1!r} / {along2!r}") from None
        if a == 0 and b == 0:
            return sep, key, None
        from sepviz.separate import move_attractor

        w, spread = self.move_axes(emb, emb_key, projection, n_points, trange)
        mkey = (key, "moved", i, round(a, 3), round(b, 3), projection, int(n_points or 0), trange)
        with self._lock:
            hit = self._sep.get_(mkey)
        if hit is None:
            hit = move_attractor(sep, i, a * spread[0] * w[0] + b * spread[1] * w[1])
            with self._lock:
                self._sep.put(mkey, hit)
        return hit, mkey, (f"attractor {i + 1} moved {a:+.1f} along PC1 and {b:+.1f} along PC2 (in spreads of the "
                           "bins): its voice was recomputed from the stored embeddings, without the network")

    def voice_files(self, sep, key) -> tuple[list[str], str, float]:
        """The voices as 16-bit WAVs and one zip of them all, written once per separation:
        ``(wav paths, zip path, scale)``.  When a voice would clip, all are scaled alike by
        ``scale`` (< 1), which keeps their relative levels."""
        import soundfile as sf

        folder = self.work_dir / hashlib.sha1(repr(key).encode()).hexdigest()[:16]
        paths = [folder / f"voice{i + 1}.wav" for i in range(len(sep.voices))]
        zpath = folder / "voices.zip"
        peak = max((float(np.max(np.abs(v))) for v in sep.voices if len(v)), default=0.0)
        scale = 1.0 / peak if peak > 1.0 else 1.0
        if not all(p.is_file() for p in (*paths, zpath)):
            self._prune_work_dir()
            folder.mkdir(parents=True, exist_ok=True)
            for p, v in zip(paths, sep.voices):
                sf.write(p, np.asarray(v, np.float32) * scale, sep.sample_rate, subtype="PCM_16")
            # written aside and moved in place: a concurrent request never serves a half-written zip
            tmp = folder / f".voices.{os.getpid()}.{threading.get_ident()}.part"
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                for p in paths:
                    zf.write(p, p.name)
            tmp.replace(zpath)
        return [str(p) for p in paths], str(zpath), scale

    def _prune_work_dir(self, keep: int = MAX_VOICE_FOLDERS) -> None:
        """Gradio copies the voices into its own cache; keep only the newest folders here."""
        try:
            dirs = sorted((d for d in self.work_dir.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
            for d in dirs[: max(0, len(dirs) - keep + 1)]:
                for f in d.iterdir():
                    f.unlink(missing_ok=True)
                d.rmdir()
        except OSError:
            pass

    def true_labels(self, emb, emb_key, refs, refs_key) -> np.ndarray:
        from sepviz.separate import reference_assignment

        key = (emb_key, refs_key)
        with self._lock:
            hit = self._truth.get_(key)
        if hit is None:
            hit = reference_assignment(emb, refs).argmax(0).numpy()
            with self._lock:
                self._truth.put(key, hit)
        return hit

    def get_cloud(self, emb, emb_key, projection: str, n_points: int, time_range) -> viz.Cloud:
        method, dims = parse_projection(projection)
        n_points = int(np.clip(int(n_points or viz.DEFAULT_POINTS), 100, viz.MAX_POINTS))
        key = (emb_key, method, dims, n_points, time_range)
        with self._lock:
            hit = self._clouds.get_(key)
        if hit is not None:
            return hit
        cfg = emb.stft_config
        cloud = viz.prepare_cloud(emb.v.numpy(), emb.salient.numpy(), emb.mag.numpy(), n_points=n_points,
                                  method=method, dims=dims, seed=0, time_range=time_range,
                                  seconds_per_frame=cfg.hop_length / cfg.sample_rate,
                                  hz_per_bin=cfg.sample_rate / cfg.n_fft, row_hz=filter_centres(emb))
        with self._lock:
            self._clouds.put(key, cloud)
        return cloud

    def get_metrics(self, sep, key, refs, refs_key):
        if refs is None:
            return None
        mkey = (key, refs_key)
        with self._lock:
            hit = self._metrics.get_(mkey)
        if hit is None:
            emb = sep.embedding
            hit = evaluate(sep.voices_model_sr, refs, emb.wave, emb.stft_config.sample_rate)
            with self._lock:
                self._metrics.put(mkey, hit)
        return hit

    def selection_file(self, key, mask: np.ndarray, wave: np.ndarray, sample_rate: int) -> Path:
        """The sound of the selected bins ``mask`` of separation ``key`` as a 16-bit WAV, written once
        (peak-normalised when it would clip)."""
        import soundfile as sf

        folder = self.work_dir / hashlib.sha1(repr(key).encode() + np.packbits(mask).tobytes()).hexdigest()[:16]
        path = folder / "selection.wav"
        if not path.is_file():
            self._prune_work_dir()
            folder.mkdir(parents=True, exist_ok=True)
            peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
            tmp = folder / f".selection.{os.getpid()}.{threading.get_ident()}.part.wav"
            sf.write(tmp, wave / peak if peak > 1.0 else wave, sample_rate, subtype="PCM_16")
            tmp.replace(path)
        return path

    def export_files(self, table, key) -> tuple[str, str]:
        """The bins' ``table`` (:func:`sepviz.export.bins_table`) as a TensorBoard projector zip and an
        npz, in a folder of their own for ``key``: ``(zip path, npz path)``."""
        folder = self.work_dir / hashlib.sha1(repr(key).encode()).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for name, write in (("embeddings_projector.zip", export.write_projector_zip), ("embeddings.npz", export.write_npz)):
            # written aside and moved in place: a concurrent request never serves a half-written file
            tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.part"
            write(table, tmp)
            tmp.replace(folder / name)
            out.append(str(folder / name))
        return out[0], out[1]

    def atlas_attractors(self, model, progress=None) -> list:
        """The oracle attractors of many mixtures (the atlas examples, or the studio's own examples),
        ``[(Example, attractors (C, K))...]``, cached per model; a mixture that fails is skipped."""
        from sepviz.separate import separate_embedding

        self.get_model(model)
        mpath = self.models[model or self.default_model]
        key = (str(mpath), mpath.stat().st_mtime)
        with self._lock:
            items = self._atlas.get_(key)
        if items is None:
            exs = list_atlas_examples() if self.include_fsdd else list(self.examples.values())
            if not exs:
                raise SepvizInputError("no examples to draw: add some with scripts/make_examples.py")
            items = []
            for i, ex in enumerate(exs):
                progress_step(progress, i / len(exs), f"Attractors of {ex.name}")
                try:
                    emb, _, _ = self.get_embedding(str(ex.mix), model, None)
                    refs = ex.load_references(emb.stft_config.sample_rate)
                    refs = [np.pad(r, (0, max(0, len(emb.wave) - len(r))))[: len(emb.wave)] for r in refs]
                    sep = separate_embedding(emb, "oracle", len(refs), references=refs)
                except SepvizError as err:
                    log.warning("atlas: skipping %s (%s)", ex.name, err)
                    continue
                items.append((ex, sep.attractors))
            with self._lock:
                self._atlas.put(key, items)
        return items

    @property
    def umap_pending(self) -> bool:
        """UMAP is being prepared (:meth:`warm_up` runs): its first picture is slow."""
        return self._warming and not self.umap_ready.is_set()

    # ------------------------------------------------------------------ warm-up
    def warm_up(self, umap: bool = True) -> None:
        """Run in a background thread: imports, sklearn's k-means, numba's UMAP JIT (~5-15 s)."""
        self._warming = True
        try:
            from sklearn.cluster import KMeans

            KMeans(2, n_init=1, random_state=0).fit(np.random.default_rng(0).normal(size=(200, 4)))
            from sepviz.separate import embed

            if self.models:  # the first forward pass of a model is slow (allocator, kernels): do it now
                noise = np.random.default_rng(0).normal(size=8000).astype(np.float32) * 0.1
                embed(noise, 8000, self.get_model(None))
            if umap:
                viz.warm_up_umap()
        except Exception:  # noqa: BLE001 - warm-up is best effort
            log.exception("warm-up failed")
        finally:
            self.umap_ready.set()
