"""The studio's event handlers: what each user action (and API call) does, returned as the
updates of the page's panels.  :class:`Studio` adds them to the cached :class:`Pipeline`; the
page (:mod:`sepviz.studio.layout`) wires them to its components, and tests call them directly."""
from __future__ import annotations

import time

import gradio as gr
import numpy as np

from sepviz import export, selection, viz
from sepviz.clusterers import DEFAULT_CLUSTERER
from sepviz.errors import SepvizError, SepvizInputError

from .feedback import notice, progress_step
from .pipeline import Pipeline, filter_centres, filter_order, grid_kw
from .report import make_report, metrics_markdown, status_text, voice_label
from . import resources
from .settings import CLUSTERER_LABELS, MAX_VOICES, N_MAIN_OUTPUTS, parse_projection, parse_time_range


class Studio(Pipeline):
    """State and handlers of the app, independent of the Blocks layout (tests call these directly)."""

    # ------------------------------------------------------------------ figures
    def figures(self, sep, emb, emb_key, refs, refs_key, projection, color_by, n_points, trange, lit=None):
        """(cloud, spectrograms, masks) figures; ``lit (T, F)`` bool: selected bins, ringed in the
        cloud and lit on the mixture's spectrogram."""
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        notes = []
        names = [f"voice {i + 1}" for i in range(sep.n_speakers)]
        if color_by == "true speaker" and refs is not None:
            labels = cloud.take(self.true_labels(emb, emb_key, refs, refs_key))
            names = [f"true speaker s{i + 1}" for i in range(len(refs))]
        elif color_by == "power":
            labels = None
        else:
            if color_by == "true speaker":
                notes.append("No references given: coloured by assigned speaker instead of the true speaker.")
            labels = cloud.take(sep.assignment)
        extras = sep.cluster.extras or {}
        gmm = extras if sep.clusterer.startswith("gmm") and "covariances" in extras else None
        method, dims = parse_projection(projection)
        title = (f"Embeddings · {CLUSTERER_LABELS.get(sep.clusterer, sep.clusterer)} · {projection} · "
                 f"{len(cloud.coords):,} of {cloud.n_candidates:,} salient bins")
        emb_fig = viz.embedding_figure(
            cloud, labels=labels, label_names=names, color_by="power" if labels is None else "labels",
            attractors=sep.attractors, attractor_names=[f"attractor {i + 1}" for i in range(len(sep.attractors))],
            anchors=extras.get("anchors"), chosen=extras.get("chosen"), gmm=gmm, title=title, notes=notes,
            tracks=sep.attractor_tracks, highlight=None if lit is None else cloud.take(lit))
        if cloud.coords.shape[1] == 2:  # a drag draws a lasso: the selection the studio plays
            emb_fig.update_layout(dragmode="lasso")
        mag = emb.mag.numpy()
        grid = grid_kw(emb)
        specs = [("mixture", mag)] + [(f"voice {i + 1}", sep.masks[i] * mag) for i in range(sep.n_speakers)]
        mask_names = [f"mask of voice {i + 1}" for i in range(sep.n_speakers)]
        if emb.frontend is not None:  # the learned front-end's latent stands where the spectrogram does
            order = filter_order(emb)
            spec_fig = viz.frontend_latent_figure(
                specs, order=order, seconds_per_frame=grid["seconds_per_frame"], time_range=trange, lit=lit,
                selectable=True, row_height=170, title="Adaptive front-end latents (dB below the mixture's loudest cell)")
            mask_fig = viz.frontend_latent_figure(
                list(zip(mask_names, sep.masks)), order=order, seconds_per_frame=grid["seconds_per_frame"],
                time_range=trange, db_range=40.0, row_height=150,
                title=f"Masks ({emb.model.config.mask}) on the latent, in dB (0 dB: all of the cell to that voice)")
            return emb_fig, spec_fig, mask_fig
        spec_fig = viz.spectrogram_figure(specs, time_range=trange, title="Spectrograms (dB below the mixture's loudest bin)",
                                          lit=lit, selectable=True, **grid)
        mask_fig = viz.masks_figure(sep.masks, names=mask_names,
                                    time_range=trange, title=f"Masks ({emb.model.config.mask})", mag=mag, **grid)
        return emb_fig, spec_fig, mask_fig

    # ------------------------------------------------------------------ handlers
    def _prepare(self, audio, refs_paths, model, keep, progress):
        if not self.models:
            self.scan_models()
            if not self.models:
                raise SepvizInputError(self.no_models_message())
        if not audio:
            raise SepvizInputError("Upload or record a mixture first, or pick an example.")
        audio, refs_paths = self.readable(audio), [self.readable(p) for p in refs_paths]
        progress_step(progress, 0.05, "Loading the audio and running the network")
        emb, emb_key, cached = self.get_embedding(audio, model, keep)
        refs, refs_key = self.get_references(list(refs_paths), emb)
        return emb, emb_key, cached, refs, refs_key

    def separate(self, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                 keep, n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                 move_y=0.0, progress=gr.Progress()):
        """Main handler: (status, voice 1-3, zip of the voices, embedding, spectrograms, masks, metrics,
        report, results panel).  Raises on a bad input (:meth:`separate_ui` shows it instead)."""
        t0 = time.perf_counter()
        trange = parse_time_range(t_from, t_to)
        emb, emb_key, cached, refs, refs_key = self._prepare(audio, (ref1, ref2, ref3), model, keep, progress)
        t1 = time.perf_counter()
        progress_step(progress, 0.4, "Finding the voices")
        sep, key = self.get_separation(emb, emb_key, clusterer, n_speakers, beta, refs, refs_key, weighting, tracking)
        sep, key, moved = self.moved(sep, key, emb, emb_key, projection, n_points, trange, move_which, move_x, move_y)
        paths, zpath, scale = self.voice_files(sep, key)
        t2 = time.perf_counter()
        progress_step(progress, 0.7, "Drawing")
        ev = self.get_metrics(sep, key, refs, refs_key)
        figs = self.figures(sep, emb, emb_key, refs, refs_key, projection, color_by, n_points, trange)
        t3 = time.perf_counter()
        report = make_report(sep, model or self.default_model, n_speakers, cached=cached, scale=scale,
                                  has_refs=refs is not None, metrics=ev,
                                  timings={"network": 0.0 if cached else emb.timings.get("network", 0.0),
                                           "load_and_embed": t1 - t0, "cluster_and_masks": t2 - t1,
                                           "plots": t3 - t2, "total": t3 - t0})
        voices = []
        for i in range(MAX_VOICES):
            if i < len(paths):
                voices.append(gr.update(value=paths[i], visible=True, label=voice_label(i, sep.energies_db[i])))
            else:
                voices.append(gr.update(value=None, visible=False))
        if moved:
            report["moved_attractor"] = {"attractor": int(move_which), "pc1": float(move_x), "pc2": float(move_y)}
        status = status_text(report, sep, projection, self.model_label(report["model"]),
                             self.umap_pending) + (f"\n\n↔ {moved}" if moved else "")
        return (status, *voices, gr.update(value=zpath, visible=True),
                *figs, metrics_markdown(ev), report, *Studio.stale(), gr.update(visible=True))

    def export_embeddings(self, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, keep,
                          n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                          move_y=0.0, progress=gr.Progress()):
        """The embeddings of the bins the cloud shows, with time, frequency, power, assigned voice
        (and true voice with references): ``(projector zip, npz)`` paths (:mod:`sepviz.export`)."""
        trange = parse_time_range(t_from, t_to)
        emb, emb_key, _, refs, refs_key = self._prepare(audio, (ref1, ref2, ref3), model, keep, progress)
        sep, key = self.get_separation(emb, emb_key, clusterer, n_speakers, beta, refs, refs_key, weighting, tracking)
        sep, key, _ = self.moved(sep, key, emb, emb_key, projection, n_points, trange, move_which, move_x, move_y)
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        truth = self.true_labels(emb, emb_key, refs, refs_key) if refs is not None else None
        table = export.bins_table(emb.v.numpy(), cloud.index, emb.mag.numpy(), sep.assignment,
                                  true_assignment=truth, row_hz=filter_centres(emb), **grid_kw(emb))
        return self.export_files(table, (key, refs_key, projection, n_points, trange))

    def export_ui(self, *args, progress=gr.Progress()):
        """:meth:`export_embeddings` for the page: the two files, or one notice saying why not."""
        try:
            return gr.update(value=list(self.export_embeddings(*args, progress=progress)), visible=True)
        except Exception as err:  # noqa: BLE001 - every failure is shown, in words
            notice(err)
            return gr.update(value=None, visible=False)

    def api_export(self, audio, model=None, clusterer=DEFAULT_CLUSTERER, n_speakers="2", ref1=None, ref2=None,
                   ref3=None, projection="PCA 2D", n_points=viz.DEFAULT_POINTS):
        """API: the export of :meth:`export_embeddings` with the studio's default settings."""
        if not audio:
            raise SepvizInputError("send an audio file")
        return self.export_embeddings(audio, ref1, ref2, ref3, model or self.default_model,
                                      clusterer or DEFAULT_CLUSTERER, n_speakers or "2", 10.0,
                                      projection or "PCA 2D", None, n_points or viz.DEFAULT_POINTS, 0, 0,
                                      progress=None)

    @staticmethod
    def parse_selection(text) -> dict:
        """The page's selection (:data:`SELECTION_JS`): ``{"source": "cloud", "bins": [...], "lasso":
        [[x, y]...] | None, "box": [[x0, x1], [y0, y1]] | None}`` or ``{"source": "spectrogram",
        "box": [[t0, t1], [f0, f1]]}``."""
        import json

        try:
            sel = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            sel = None
        if not isinstance(sel, dict) or sel.get("source") not in ("cloud", "spectrogram"):
            raise SepvizInputError("the selection could not be read: draw it again")
        for k in ("lasso", "box"):
            v = sel.get(k)
            if v is not None and not (isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 for p in v)):
                raise SepvizInputError(f"the selection's {k} could not be read: draw it again")
        if sel["source"] == "spectrogram" and not sel.get("box"):
            raise SepvizInputError("drag a box on the mixture's spectrogram to select a time-frequency rectangle")
        return sel

    def listen_selection(self, text, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection,
                         color_by, keep, n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1",
                         move_x=0.0, move_y=0.0):
        """A selection on the page: the selected bins alone as sound (a mask of the selection on the
        mixture's STFT, the mixture's phase), lit on the spectrogram and ringed in the cloud.
        Returns (selection audio, note, cloud, spectrograms); the cloud is left as drawn when the
        selection was made in it (a redraw would drop plotly's own selection)."""
        from sepviz.separate import listen_to_bins

        sel = self.parse_selection(text)
        trange = parse_time_range(t_from, t_to)
        emb, emb_key, _, refs, refs_key = self._prepare(audio, (ref1, ref2, ref3), model, keep, None)
        sep, key = self.get_separation(emb, emb_key, clusterer, n_speakers, beta, refs, refs_key, weighting, tracking)
        sep, key, _ = self.moved(sep, key, emb, emb_key, projection, n_points, trange, move_which, move_x, move_y)
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        grid = grid_kw(emb)
        t, f = emb.spec.shape
        lo, hi = viz.frame_window(t, grid["seconds_per_frame"], trange)
        region = sel.get("lasso") or sel.get("box")
        if sel["source"] == "spectrogram" and emb.frontend is not None:
            # the latent's rows are the filters by centre frequency: the box's y range counts rows
            (t0, t1), (f0, f1) = sel["box"]
            rows = selection.rectangle_mask((t, f), (t0, t1), (f0, f1), seconds_per_frame=grid["seconds_per_frame"],
                                            hz_per_bin=1.0)
            mask = np.zeros_like(rows)
            mask[:, filter_order(emb)] = rows
            mask[:lo], mask[hi:] = False, False
            how = (f"the rectangle {min(t0, t1):.2f}-{max(t0, t1):.2f} s, learned filters "
                   f"{int(np.ceil(min(f0, f1)))}-{int(np.floor(max(f0, f1)))} by centre frequency")
        elif sel["source"] == "spectrogram":
            (t0, t1), (f0, f1) = sel["box"]
            mask = selection.rectangle_mask((t, f), (t0, t1), (f0, f1), **grid)
            mask[:lo], mask[hi:] = False, False
            how = f"the rectangle {min(t0, t1):.2f}-{max(t0, t1):.2f} s, {min(f0, f1):.0f}-{max(f0, f1):.0f} Hz"
        elif region and cloud.projector.linear and cloud.coords.shape[1] == 2:
            mask = selection.region_mask(emb.v.numpy(), cloud.projector, lasso=sel.get("lasso"),
                                         box=None if sel.get("lasso") else sel.get("box"), frames=(lo, hi))
            how = "every bin whose embedding falls inside the drawn region, shown or not"
        else:
            mask = selection.bins_mask((t, f), sel.get("bins") or [])
            how = "the picked dots only (UMAP places only the bins it shows)"
        if not mask.any():
            return (gr.update(value=None, visible=False), "Nothing selected: draw the lasso or box around some dots "
                    "(or, on the spectrogram, around some sound).", gr.skip(), gr.skip())
        wave = listen_to_bins(emb, mask)
        path = self.selection_file(key, mask, wave, emb.input_sr)
        energy = emb.mag.numpy() ** 2
        share = 100 * float(energy[mask].sum() / max(energy.sum(), 1e-20))
        owners = np.bincount(sep.assignment[mask].reshape(-1), minlength=sep.n_speakers)
        top = int(owners.argmax())
        note = (f"**{int(mask.sum()):,} bins selected** ({how}): {share:.1f} % of the mixture's energy; "
                f"{100 * owners[top] / owners.sum():.0f} % of them go to voice {top + 1}.")
        emb_fig, spec_fig, _ = self.figures(sep, emb, emb_key, refs, refs_key, projection, color_by, n_points, trange,
                                            lit=mask)
        return (gr.update(value=str(path), visible=True), note,
                emb_fig if sel["source"] == "spectrogram" else gr.skip(), spec_fig)

    def selection_ui(self, *args):
        """:meth:`listen_selection` for the page: a failure says why (the note, one notice)."""
        try:
            return self.listen_selection(*args)
        except Exception as err:  # noqa: BLE001 - every failure is shown, in words
            return gr.update(value=None, visible=False), f"⚠️ {notice(err)}", gr.skip(), gr.skip()

    @staticmethod
    def stale() -> tuple:
        """The panels made from a previous result on request (the export), emptied: a new result
        or an error makes them stale."""
        return (gr.update(value=None, visible=False), gr.update(value=None, visible=False),
                resources.text("selection_help"))

    @staticmethod
    def cleared(status: str | None = None) -> tuple:
        """The main outputs with no result: ``status`` alone, every result panel emptied and hidden."""
        voices = [gr.update(value=None, visible=i < 2) for i in range(MAX_VOICES)]
        return (status or resources.text("intro"), *voices, gr.update(value=None, visible=False), None, None, None, "", None,
                *Studio.stale(), gr.update(visible=False))

    def separate_ui(self, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                    keep, n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                    move_y=0.0, progress=gr.Progress()):
        """:meth:`separate` for the page: a bad input clears the old results and says why (status, one notice)."""
        try:
            return self.separate(audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                                 keep, n_points, t_from, t_to, weighting, tracking, move_which, move_x, move_y, progress=progress)
        except Exception as err:  # noqa: BLE001 - every failure is shown, in words
            return self.cleared(f"⚠️ {notice(err)}")

    def refresh(self, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                keep, n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                move_y=0.0):
        """Re-run on a control change, but only when there is something to separate."""
        if not audio:
            return tuple(gr.skip() for _ in range(N_MAIN_OUTPUTS))
        return self.separate_ui(audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                                keep, n_points, t_from, t_to, weighting, tracking, move_which, move_x, move_y, progress=None)

    def clusterer_choices(self, model_name, has_refs: bool, current, selected) -> tuple[dict, dict]:
        """Updates of the clusterer menu and the Compare tab's ticks for a model, with or without
        references (the oracle needs them): the current choices are kept where still offered."""
        names = self.clusterers_for(model_name, has_refs) if self.models else ["kmeans"]
        choices = [(CLUSTERER_LABELS[c], c) for c in names]
        sel = [c for c in (selected or []) if c in names] or [c for c in ("kmeans", "gmm") if c in names]
        value = current if current in names else (DEFAULT_CLUSTERER if DEFAULT_CLUSTERER in names else names[0])
        return gr.update(choices=choices, value=value), gr.update(choices=choices, value=sel)

    def new_audio(self, audio, model, clusterer, selected, n_speakers, beta, projection, color_by, keep, n_points,
                  t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                  move_y=0.0, progress=gr.Progress()):
        """A new upload or recording: the example and references no longer apply; separate at once.
        Returns (example, s1-s3, example note, clusterer menu, Compare ticks, *main outputs)."""
        menu, ticks = self.clusterer_choices(model, False, clusterer, selected)
        return ("", None, None, None, gr.update(value="", visible=False), menu, ticks,
                *self.separate_ui(audio, None, None, None, model, menu["value"], n_speakers, beta, projection,
                                  color_by, keep, n_points, t_from, t_to, weighting, tracking, move_which, move_x, move_y, progress=progress))

    def pick_example(self, name, model, clusterer, selected, beta, projection, color_by, keep, n_points, t_from,
                     t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                     move_y=0.0, progress=gr.Progress()):
        """The example menu: fill the mixture, its references and its number of talkers, and separate.
        Returns (mixture, s1-s3, talkers, example note, clusterer menu, Compare ticks, *main outputs)."""
        if not name:
            return (gr.skip(),) * (8 + N_MAIN_OUTPUTS)
        try:
            mix, r1, r2, r3, n, info = self.load_example(name)
        except Exception as err:  # noqa: BLE001
            return (*(gr.skip(),) * 8, *self.cleared(f"⚠️ {notice(err)}"))
        menu, ticks = self.clusterer_choices(model, True, clusterer, selected)
        return (mix, r1, r2, r3, n, gr.update(value=info, visible=True), menu, ticks,
                *self.separate_ui(mix, r1, r2, r3, model, menu["value"], n, beta, projection, color_by, keep,
                                  n_points, t_from, t_to, weighting, tracking, move_which, move_x, move_y, progress=progress))

    def compare(self, audio, ref1, ref2, ref3, model, clusterers, n_speakers, beta, projection, keep, n_points,
                t_from, t_to, weighting="auto", tracking="model", progress=gr.Progress()):
        """Compare tab: (grid figure, center-mismatch figure, summary markdown)."""
        trange = parse_time_range(t_from, t_to)
        clusterers = [c for c in (clusterers or []) if c]
        if not clusterers:
            raise SepvizInputError("tick at least one clusterer to compare")
        emb, emb_key, _, refs, refs_key = self._prepare(audio, (ref1, ref2, ref3), model, keep, progress)
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        items, estimates, rows = [], {}, []
        for j, name in enumerate(clusterers):
            progress_step(progress, 0.2 + 0.6 * j / len(clusterers), f"Clustering ({name})")
            sep, key = self.get_separation(emb, emb_key, name, n_speakers, beta, refs, refs_key, weighting, tracking)
            dt = sep.timings.get("cluster", 0.0) + sep.timings.get("masks_istft", 0.0)
            ev = self.get_metrics(sep, key, refs, refs_key)
            ex = sep.cluster.extras or {}
            items.append(viz.CompareItem(CLUSTERER_LABELS.get(name, name), cloud.take(sep.assignment), sep.attractors,
                                         sep.masks, score=ev["means"]["si_snri"] if ev else None,
                                         anchors=ex.get("anchors"), chosen=ex.get("chosen"),
                                         gmm=ex if name.startswith("gmm") and "covariances" in ex else None))
            estimates[name] = sep.attractors
            rows.append((name, ev["means"]["si_snri"] if ev else None, dt, sep.n_speakers))
        progress_step(progress, 0.85, "Plotting")
        grid = viz.compare_figure(cloud, items, emb.mag.numpy(), time_range=trange, order=filter_order(emb),
                                  title=f"Same embeddings, {len(items)} clusterers · {projection}")
        mismatch_fig, dist = None, {}
        if refs is not None:
            oracle, _ = self.get_separation(emb, emb_key, "oracle", len(refs), beta, refs, refs_key)
            est = {CLUSTERER_LABELS.get(k, k): v for k, v in estimates.items() if k != "oracle"}
            mismatch_fig, dist = viz.center_mismatch_figure(
                cloud, oracle.attractors, est, true_labels=cloud.take(self.true_labels(emb, emb_key, refs, refs_key)),
                points=emb.v.numpy().reshape(-1, emb.v.shape[-1])[cloud.index])
        lines = ["| clusterer | speakers | SI-SNRi (dB) | distance to ideal attractors | cluster + masks (s) |", "|---|---|---|---|---|"]
        for name, score, dt, c in rows:
            d = dist.get(CLUSTERER_LABELS.get(name, name))
            lines.append(f"| {CLUSTERER_LABELS.get(name, name)} | {c} | {'' if score is None else f'{score:.1f}'} | "
                         f"{'' if d is None else f'{d:.3f}'} | {dt:.2f} |")
        lines.append("\n*SI-SNRi*: how many dB clearer the voices are than the mixture (higher is better). "
                     "*Distance to ideal attractors*: how far each clusterer's talker centres land from those the "
                     "isolated sources give (lower is better).")
        if refs is None:
            lines.append("\n*Give the references (or pick an example) for SI-SNRi and the center-mismatch view.*")
        return grid, mismatch_fig, "\n".join(lines)

    def compare_ui(self, audio, ref1, ref2, ref3, model, clusterers, n_speakers, beta, projection, keep, n_points,
                   t_from, t_to, weighting="auto", tracking="model", progress=gr.Progress()):
        """:meth:`compare` for the page: the figures shown once there are some; a bad input clears
        them and says why (the table, one notice)."""
        try:
            grid, mismatch, table = self.compare(audio, ref1, ref2, ref3, model, clusterers, n_speakers, beta,
                                                 projection, keep, n_points, t_from, t_to, weighting, tracking,
                                                 progress=progress)
        except Exception as err:  # noqa: BLE001
            return gr.update(value=None, visible=False), gr.update(value=None, visible=False), f"⚠️ {notice(err)}"
        return (gr.update(value=grid, visible=True), gr.update(value=mismatch, visible=mismatch is not None), table)

    def load_example(self, name):
        """Example menu: the mixture, the references and the number of talkers (by name only)."""
        ex = self.examples.get(name)
        if ex is None:
            raise SepvizInputError(f"unknown example {name!r}")
        refs = [str(p) for p in ex.sources] + [None] * (MAX_VOICES - len(ex.sources))
        return (str(ex.mix), *refs, str(ex.n_speakers), f"*{ex.description}*")

    def atlas_ui(self, model, dims_label, color_by, progress=gr.Progress()):
        """:meth:`atlas` for the page: the figure shown once drawn; a failure says why in one notice."""
        try:
            return gr.update(value=self.atlas(model, dims_label, color_by, progress=progress), visible=True)
        except Exception as err:  # noqa: BLE001
            notice(err)
            return gr.update(value=None, visible=False)

    def atlas(self, model, dims_label, color_by, progress=gr.Progress()):
        """Teaching tab: oracle attractors of many mixtures in one PCA (cached per model)."""
        items = self.atlas_attractors(model, progress)
        dims = 3 if "3" in str(dims_label) else 2
        if color_by == "mixture":
            atlas_items = [viz.AtlasItem(ex.name, a, [ex.name] * len(a)) for ex, a in items]
        elif color_by == "gender":
            atlas_items = [viz.AtlasItem(ex.name, a, ex.labels) for ex, a in items]
        else:
            atlas_items = [viz.AtlasItem(ex.name, a, [str(s) for s in (ex.meta.get("speakers") or ex.labels)])
                           for ex, a in items]
        fig, _ = viz.attractor_atlas_figure(atlas_items, dims=dims,
                                            title=f"Oracle attractors of {len(items)} mixtures in one PCA · model "
                                                  f"{model or self.default_model}")
        return fig

    def frontend_teaching(self, model):
        """Teaching tab: (note, figure) for the selected model's front-end: its learned filters next to
        the STFT's bases, or for a model that reads the STFT a sentence saying so and the STFT's bases."""
        try:
            m = self.get_model(model) if self.models else None
        except SepvizError:
            m = None
        name = model or self.default_model
        if m is not None and getattr(m, "frontend", None) is not None:
            return (f"The selected model (**{name}**) reads its own **learned filters**: "
                    "they are drawn sorted by centre frequency, above the STFT's bases.",
                    viz.frontend_bases_figure(m, title=f"Learned filters of {name} next to the STFT's"))
        return (f"The selected model ({f'**{name}**' if name else 'none'}) uses the **STFT**, not an adaptive "
                "front-end: below are the STFT's bases a learned front-end would replace.",
                viz.frontend_bases_figure(None, title="The STFT's bases (this model's front-end)"))

    def api_separate(self, audio, model=None, clusterer=DEFAULT_CLUSTERER, n_speakers="2"):
        """API: one audio file in; voices 1-3 (unused ones None) and the report (:meth:`make_report`) out."""
        t0 = time.perf_counter()
        if not audio:
            raise SepvizInputError("send an audio file")
        audio = self.readable(audio)
        model = model or self.default_model
        emb, emb_key, cached = self.get_embedding(audio, model, None)
        t1 = time.perf_counter()
        sep, key = self.get_separation(emb, emb_key, clusterer or DEFAULT_CLUSTERER, n_speakers or "2", 10.0, None, None)
        paths, _, scale = self.voice_files(sep, key)
        t2 = time.perf_counter()
        report = make_report(sep, model, n_speakers or "2", cached=cached, scale=scale,
                                  timings={"network": 0.0 if cached else emb.timings.get("network", 0.0),
                                           "load_and_embed": t1 - t0, "cluster_and_masks": t2 - t1, "total": t2 - t0})
        return (*(paths[i] if i < len(paths) else None for i in range(MAX_VOICES)), report)
