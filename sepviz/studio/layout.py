"""The studio's page: the Blocks layout, the wiring of its events to :class:`Studio`'s handlers,
the hidden API endpoints (``/separate``, ``/export_embeddings``), and what ``launch`` needs."""
from __future__ import annotations

import gradio as gr
from gradio.exceptions import InvalidPathError
from pydantic import ValidationError

from sepviz import viz
from sepviz.clusterers import DEFAULT_CLUSTERER
from sepviz.errors import SepvizError
from sepviz.examples import cache_dir, examples_dir

from .feedback import REFUSAL, api_handler, log
from .handlers import Studio
from .resources import page, text
from .settings import (ALL_CLUSTERERS, CLUSTERER_LABELS, COLOR_BY, FIT_WEIGHTING_CHOICES, MAX_VOICES, N_SPEAKERS,
                       PROJECTIONS, TRACKING_CHOICES)

TEACHING = ("embedding", "attractor", "anchors", "gmm", "mask")  # the Teaching tab's texts (teach_*.md), in order


class StudioBlocks(gr.Blocks):
    """gr.Blocks whose refusal of a file named by path says so in words.

    Gradio already refuses an input file that was not uploaded to its cache (or that is not a file
    description at all), but answers with a bare ``"error": null``; this turns both into the
    studio's one refusal (:data:`REFUSAL`), the same for every path."""

    async def preprocess_data(self, *args, **kwargs):
        try:
            return await super().preprocess_data(*args, **kwargs)
        except (InvalidPathError, ValidationError) as err:
            log.info("refused an input file that was not uploaded: %s", str(err).splitlines()[0][:300])
            raise gr.Error(REFUSAL, print_exception=False) from None


def build_demo(studio: Studio) -> gr.Blocks:
    models = list(studio.models)
    default = studio.default_model
    has_examples = bool(studio.examples)
    clusterers0 = studio.clusterers_for(default, False) if models else ["kmeans", "gmm", "gmm_tied", "soft_kmeans"]
    keep0 = float(studio.get_model(default).config.keep) if models else 0.9
    toys = viz.toy_figures()

    with StudioBlocks(title="sepviz studio", delete_cache=(1800, 3600), fill_width=True) as demo:
        gr.Markdown(text("title"), elem_id="sv-title")
        if not models:
            gr.Markdown(f"> ⚠️ {studio.no_models_message()}")
        with gr.Row(equal_height=False):
            # ---------------- left: the input, the three main choices, the button; the rest folded away
            with gr.Column(scale=2, min_width=360):
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Mixture (2-3 talkers)",
                                 elem_id="sv-audio")
                example = gr.Dropdown(choices=[("…or pick an example", "")] + [(e.name, e.name)
                                                                                for e in studio.examples.values()],
                                      value="", show_label=False, label="Example", visible=has_examples,
                                      elem_id="sv-example")
                example_info = gr.Markdown("", elem_classes="sv-help", visible=False)
                clusterer0 = DEFAULT_CLUSTERER if DEFAULT_CLUSTERER in clusterers0 else clusterers0[0]
                model = gr.Dropdown(choices=[(studio.model_label(m), m) for m in models], value=default,
                                    label="Model", elem_id="sv-model")
                with gr.Row():
                    clusterer = gr.Dropdown(choices=[(CLUSTERER_LABELS[c], c) for c in clusterers0], value=clusterer0,
                                            label="Clusterer", elem_id="sv-clusterer", min_width=150)
                    n_speakers = gr.Dropdown([("2", "2"), ("3", "3"), ("auto (count them)", "auto")], value="2",
                                             label="Talkers", elem_id="sv-talkers", min_width=150)
                run = gr.Button("Separate", variant="primary", elem_id="sv-run")
                with gr.Accordion("References (optional)", open=False):
                    gr.Markdown(text("references_help"), elem_classes="sv-help")
                    refs = [gr.Audio(sources=["upload"], type="filepath", label=f"s{i + 1}", elem_id=f"sv-ref{i + 1}")
                            for i in range(MAX_VOICES)]
                with gr.Accordion("Model card", open=False):
                    card = gr.Markdown(studio.model_card(default), elem_classes="sv-card")
                    rescan = gr.Button("↻ Look for new checkpoints", size="sm")
                with gr.Accordion("Advanced", open=False, elem_id="sv-advanced"):
                    beta = gr.Slider(1, 50, value=10, step=1, label="soft k-means stiffness β",
                                     visible=clusterer0 == "soft_kmeans")
                    fit_weighting = gr.Radio(FIT_WEIGHTING_CHOICES, value="auto",
                                             label="Loud bins count more in the fit",
                                             info="k-means, soft k-means, tied GMM: weight each bin by "
                                                  "log(1 + loudness)", elem_id="sv-loud")
                    tracking = gr.Radio(TRACKING_CHOICES, value="model", label="Attractors follow the talkers over time",
                                        info="each talker's attractor moves with a short window of its bins "
                                             "(the model card says how long)", elem_id="sv-track")
                    projection = gr.Radio(PROJECTIONS, value="PCA 2D", label="Projection", elem_id="sv-projection")
                    color_by = gr.Radio(COLOR_BY, value="assigned speaker", label="Colour bins by")
                    keep = gr.Slider(0.3, 1.0, value=keep0, step=0.05, label="Salient bins kept (fraction)",
                                     info="bins used to estimate attractors; default from the model")
                    n_points = gr.Slider(500, viz.MAX_POINTS, value=viz.DEFAULT_POINTS, step=500,
                                         label="Bins to plot", info=f"UMAP uses at most {viz.UMAP_MAX_POINTS}")
                    with gr.Row():
                        t_from = gr.Number(0, label="from (s)", minimum=0, elem_id="sv-from")
                        t_to = gr.Number(0, label="to (s), 0 = end", minimum=0, elem_id="sv-to")

            # ---------------- right: tabs; results stay hidden until there are some
            with gr.Column(scale=5):
                with gr.Tabs():
                    with gr.Tab("Separate", id="separate"):
                        status = gr.Markdown(text("intro"), elem_classes="sv-status", elem_id="sv-status")
                        with gr.Column(visible=False, elem_id="sv-results") as results:
                            with gr.Row():
                                voices = [gr.Audio(label=f"Voice {i + 1}", type="filepath", interactive=False,
                                                   visible=i < 2, buttons=["download"], elem_id=f"sv-voice{i + 1}")
                                          for i in range(MAX_VOICES)]
                            zip_btn = gr.DownloadButton("Download all voices (.zip)", visible=False, size="sm",
                                                        elem_id="sv-zip")
                            emb_plot = gr.Plot(label="Embedding cloud", elem_id="sv-embedding")
                            gr.Markdown(text("cloud_legend"), elem_classes="sv-help")
                            with gr.Row(equal_height=False):
                                sel_note = gr.Markdown(text("selection_help"), elem_classes="sv-help", elem_id="sv-sel-note")
                                sel_audio = gr.Audio(label="The selected bins alone", type="filepath",
                                                     interactive=False, visible=False, buttons=["download"],
                                                     elem_id="sv-sel-audio")
                            sel_box = gr.Textbox(elem_id="sv-selection", elem_classes="sv-hidden", show_label=False,
                                                 container=False)
                            sel_go = gr.Button("selection", elem_id="sv-sel-go", elem_classes="sv-hidden")
                            with gr.Row():
                                export_btn = gr.Button("Export these bins' embeddings", size="sm", scale=0,
                                                       min_width=260, elem_id="sv-export")
                                gr.Markdown(text("export_help"), elem_classes="sv-help")
                            with gr.Group(elem_id="sv-move"):
                                with gr.Row(equal_height=False):
                                    move_which = gr.Radio(["1", "2", "3"], value="1", label="Move attractor",
                                                          min_width=140, elem_id="sv-move-which")
                                    move_x = gr.Slider(-3, 3, value=0, step=0.1, label="along PC1",
                                                       elem_id="sv-move-x", min_width=160)
                                    move_y = gr.Slider(-3, 3, value=0, step=0.1, label="along PC2",
                                                       elem_id="sv-move-y", min_width=160)
                                    move_reset = gr.Button("Put it back", size="sm", scale=0, min_width=110,
                                                           elem_id="sv-move-reset")
                                gr.Markdown(text("move_help"), elem_classes="sv-help")
                            export_files = gr.File(label="Embeddings", file_count="multiple", visible=False,
                                                   interactive=False, elem_id="sv-export-files")
                            metrics = gr.Markdown("")
                            spec_plot = gr.Plot(label="Spectrograms", elem_id="sv-spectrograms")
                            mask_plot = gr.Plot(label="Masks", elem_id="sv-masks")
                            with gr.Accordion("Report (as the API returns it)", open=False):
                                report = gr.JSON(elem_id="sv-report")
                    with gr.Tab("Compare", id="compare"):
                        gr.Markdown(text("compare_help"), elem_classes="sv-help")
                        with gr.Row():
                            compare_set = gr.CheckboxGroup(
                                choices=[(CLUSTERER_LABELS[c], c) for c in clusterers0],
                                value=[c for c in ("kmeans", "gmm", "gmm_tied", "soft_kmeans", "anchors") if c in clusterers0],
                                label="Clusterers", scale=4)
                            compare_btn = gr.Button("Compare", variant="primary", scale=1, elem_id="sv-compare")
                        compare_table = gr.Markdown("")
                        compare_plot = gr.Plot(label="Clusterers side by side", elem_id="sv-compare-grid", visible=False)
                        mismatch_plot = gr.Plot(label="Center mismatch", elem_id="sv-mismatch", visible=False)
                    with gr.Tab("Teaching", id="teaching"):
                        for k in TEACHING:
                            with gr.Row(equal_height=False):
                                with gr.Column(scale=2, min_width=260):
                                    gr.Markdown(text(f"teach_{k}"))
                                with gr.Column(scale=3):
                                    gr.Plot(value=toys[k], show_label=False)
                        with gr.Row(equal_height=False):
                            with gr.Column(scale=2, min_width=260):
                                gr.Markdown(text("teach_atlas"))
                                atlas_dims = gr.Radio(["2D", "3D"], value="2D", label="Atlas projection")
                                atlas_color = gr.Radio(["gender", "speaker", "mixture"], value="gender",
                                                       label="Colour by")
                                atlas_btn = gr.Button("Draw the atlas", variant="primary", elem_id="sv-atlas-btn")
                            with gr.Column(scale=3):
                                atlas_plot = gr.Plot(show_label=False, elem_id="sv-atlas", visible=False)
                        fe_note0, fe_fig0 = studio.frontend_teaching(default)
                        with gr.Row(equal_height=False):
                            with gr.Column(scale=2, min_width=260):
                                gr.Markdown(text("teach_frontend"))
                                fe_note = gr.Markdown(fe_note0, elem_id="sv-frontend-note")
                            with gr.Column(scale=3):
                                fe_plot = gr.Plot(value=fe_fig0, show_label=False, elem_id="sv-frontend")

        # ---------------- hidden API endpoint: /separate (one file in; three voices and the report out)
        with gr.Row(visible=False):
            api_audio = gr.Audio(type="filepath", sources=["upload"], label="audio")
            api_model = gr.Dropdown(choices=models or [""], value=default or "", label="model",
                                    allow_custom_value=True)
            api_clusterer = gr.Dropdown(choices=[c for c in ALL_CLUSTERERS if c != "oracle"], value=DEFAULT_CLUSTERER,
                                        label="clusterer")
            api_n = gr.Dropdown(choices=N_SPEAKERS, value="2", label="n_speakers")
            api_out = [gr.Audio(type="filepath", label=f"voice {i + 1}") for i in range(MAX_VOICES)]
            api_report = gr.JSON(label="report")
            api_btn = gr.Button("api")
        api_btn.click(api_handler(studio.api_separate), [api_audio, api_model, api_clusterer, api_n], [*api_out, api_report],
                      api_name="separate",
                      api_description="Separate a mixture: returns voices 1-3 (unused ones None) and a JSON report "
                                      "(talkers, voice levels, warnings, model, clusterer, timings)")

        with gr.Row(visible=False):
            api_refs = [gr.Audio(type="filepath", sources=["upload"], label=f"s{i + 1}") for i in range(MAX_VOICES)]
            api_projection = gr.Dropdown(choices=PROJECTIONS, value="PCA 2D", label="projection")
            api_points = gr.Number(viz.DEFAULT_POINTS, label="n_points", precision=0)
            api_export_out = [gr.File(label="projector zip"), gr.File(label="npz")]
            api_export_btn = gr.Button("api export")
        api_export_btn.click(api_handler(studio.api_export), [api_audio, api_model, api_clusterer, api_n, *api_refs,
                                                          api_projection, api_points], api_export_out,
                             api_name="export_embeddings",
                             api_description="The embeddings of the plotted bins with time, frequency, power, "
                                             "assigned voice (and true voice with references s1-s3): a zip of "
                                             "vectors.tsv + metadata.tsv (TensorBoard Embedding Projector) and "
                                             "an .npz")

        # ---------------- wiring: one event per user action, so a failure says so once
        ui = dict(api_visibility="private")
        rest = [beta, projection, color_by, keep, n_points, t_from, t_to, fit_weighting, tracking, move_which, move_x,
                move_y]
        main_inputs = [audio, *refs, model, clusterer, n_speakers, *rest]
        main_outputs = [status, *voices, zip_btn, emb_plot, spec_plot, mask_plot, metrics, report, export_files,
                        sel_audio, sel_note, results]
        run.click(studio.separate_ui, main_inputs, main_outputs, **ui)
        redo = dict(fn=studio.refresh, inputs=main_inputs, outputs=main_outputs, trigger_mode="always_last",
                    show_progress="minimal", **ui)
        for comp in (clusterer, n_speakers, projection, color_by, fit_weighting, tracking):
            comp.input(**redo)
        for comp in (beta, keep, n_points, move_x, move_y):
            comp.release(**redo)
        move_which.input(**redo)
        move_reset.click(lambda: (0, 0), None, [move_x, move_y], **ui).then(**redo)
        for comp in (t_from, t_to):
            comp.submit(**redo)

        def _choices(model_name, r1, r2, r3, current, selected):
            return studio.clusterer_choices(model_name, sum(bool(r) for r in (r1, r2, r3)) >= 2, current, selected)

        choice_io = dict(inputs=[model, *refs, clusterer, compare_set], outputs=[clusterer, compare_set], **ui)
        for r in refs:  # the user's own uploads only: the example menu sets the choices itself
            r.upload(_choices, **choice_io)
            r.clear(_choices, **choice_io)

        def _model_changed(model_name):
            try:
                k = float(studio.get_model(model_name).config.keep)
            except SepvizError:
                k = 0.9
            return studio.model_card(model_name), k

        model.change(_model_changed, [model], [card, keep], **ui).then(_choices, **choice_io).then(**redo)
        model.change(studio.frontend_teaching, [model], [fe_note, fe_plot], **ui)

        def _rescan(current):
            names = list(studio.scan_models())
            value = current if current in names else studio.default_model
            return gr.update(choices=[(studio.model_label(m), m) for m in names], value=value)

        rescan.click(_rescan, [model], [model], **ui)
        clusterer.change(lambda c: gr.update(visible=c == "soft_kmeans"), [clusterer], [beta], **ui)

        new_io = dict(inputs=[audio, model, clusterer, compare_set, n_speakers, *rest],
                      outputs=[example, *refs, example_info, clusterer, compare_set, *main_outputs], **ui)
        audio.upload(studio.new_audio, **new_io)          # an upload or a recording separates at once
        audio.stop_recording(studio.new_audio, **new_io)
        audio.clear(lambda: ("", *Studio.cleared()), None, [example, *main_outputs], **ui)
        example.input(studio.pick_example, [example, model, clusterer, compare_set, *rest],
                      [audio, *refs, n_speakers, example_info, clusterer, compare_set, *main_outputs], **ui)

        sel_go.click(studio.selection_ui, [sel_box, *main_inputs], [sel_audio, sel_note, emb_plot, spec_plot],
                     js="(selection, ...rest) => [window.svSelection || '', ...rest]", trigger_mode="always_last",
                     show_progress="minimal", **ui)
        export_btn.click(studio.export_ui, [audio, *refs, model, clusterer, n_speakers, beta, projection, keep,
                                            n_points, t_from, t_to, fit_weighting, tracking, move_which, move_x,
                                            move_y], [export_files], **ui)
        compare_btn.click(studio.compare_ui,
                          [audio, *refs, model, compare_set, n_speakers, beta, projection, keep, n_points, t_from, t_to,
                           fit_weighting, tracking],
                          [compare_plot, mismatch_plot, compare_table], **ui)
        atlas_btn.click(studio.atlas_ui, [model, atlas_dims, atlas_color], [atlas_plot], **ui)
        for comp in (atlas_dims, atlas_color):
            comp.input(studio.atlas_ui, [model, atlas_dims, atlas_color], [atlas_plot], **ui)
    demo.studio = studio
    return demo


def launch_kwargs(studio: Studio) -> dict:
    """Theme, CSS and the folders the app may serve files from (examples, caches)."""
    return dict(theme=gr.themes.Soft(primary_hue="blue", secondary_hue="orange"), css=page("studio.css"), js=page("selection.js"),
                allowed_paths=[str(examples_dir()), str(cache_dir())])
