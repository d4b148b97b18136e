"""A separator on the adaptive front-end (sepviz.frontend) through the whole pipeline: separate,
chunked inference, selections, moved attractors, evaluate with the oracles, and the studio's figures."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sepviz.checkpoint import build_danet, load_checkpoint, save_checkpoint
from sepviz.cli import main
from sepviz.danet import DANetConfig

TINY_FE = {"n_filters": 32, "kernel": 64, "stride": 4, "pool": 4}  # hop 16 samples (as tests/test_adaptive.py)
FRAMES = lambda n: n // 16 + 1  # noqa: E731

pytestmark = pytest.mark.usefixtures("one_thread")


def _save_frontend_danet(path: Path, training: dict | None = None) -> Path:
    torch.manual_seed(0)
    model = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 16, "layers": 1}, n_anchors=4,
                                    frontend=dict(TINY_FE)))
    with torch.no_grad():
        model.fixed_attractors.normal_()
    return save_checkpoint(path, model, training=training or {"note": "random tiny front-end test model"})


@pytest.fixture(scope="module")
def fe_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fe_ckpt")
    _save_frontend_danet(d / "adaptive.pt")
    return d


@pytest.fixture(scope="module")
def fe_ckpt(fe_dir) -> Path:
    return fe_dir / "adaptive.pt"


@pytest.fixture(scope="module")
def tones(tmp_path_factory, tone_pair) -> dict:
    """The tone pair as 16 kHz files (an upload's rate; the model runs at 8 kHz)."""
    from sepviz.audio import resample

    d = tmp_path_factory.mktemp("fe_audio")
    mix, src = tone_pair
    paths = {}
    for name, w in (("mix", mix), ("s1", src[0]), ("s2", src[1])):
        sf.write(d / f"{name}.wav", resample(w, 8000, 16000), 16000, subtype="FLOAT")
        paths[name] = str(d / f"{name}.wav")
    return paths


def test_separate_gives_the_voices_at_the_inputs_length_and_rate(fe_ckpt, tones):
    from sepviz.separate import separate

    n = sf.info(tones["mix"]).frames
    for clusterer, refs in (("kmeans", None), ("oracle", [sf.read(tones[s])[0] for s in ("s1", "s2")])):
        sep = separate(tones["mix"], None, str(fe_ckpt), clusterer, 2,
                       references=None if refs is None else [r[::2] for r in refs])
        emb = sep.embedding
        assert emb.frontend is not None and emb.spec.shape == (FRAMES(len(emb.wave)), 32)
        assert not emb.spec.is_complex() and (emb.spec >= 0).all()
        assert sep.sample_rate == 16000 and len(sep.voices) == 2 and all(len(v) == n for v in sep.voices)
        assert sep.masks.shape == (2, *emb.spec.shape) and all(np.isfinite(v).all() for v in sep.voices)
        assert emb.stft_config.hop_length == 16  # the front-end's frame grid, not the STFT's
    # masks that add up to one give back the front-end's own autoencoding of the mixture
    from sepviz.resynthesis import masked_istft

    half = torch.full((2, *emb.spec.shape), 0.5)
    both = masked_istft(emb, half).sum(0)
    with torch.no_grad():
        auto = emb.model.frontend(torch.from_numpy(emb.wave)[None])[0].numpy()
    assert np.allclose(both, auto, atol=1e-5)


def test_chunked_inference_keeps_the_latents_frame_grid(fe_ckpt, tone_pair, monkeypatch):
    from sepviz import inference
    from sepviz.separate import embed

    mix, _ = tone_pair
    whole = embed(mix, 8000, str(fe_ckpt))
    monkeypatch.setattr(inference, "CHUNK_SECONDS", 0.25)
    monkeypatch.setattr(inference, "CONTEXT_SECONDS", 0.1)
    chunked = embed(mix, 8000, str(fe_ckpt))
    assert torch.equal(chunked.spec, whole.spec)  # one latent for the whole clip
    assert chunked.v.shape == whole.v.shape == (FRAMES(len(mix)), 32, whole.v.shape[-1])
    # the frames far from every chunk edge see the same context as in one pass
    assert torch.allclose(chunked.v[:10], whole.v[:10], atol=0.05)


def test_listen_to_bins_and_move_attractor(fe_ckpt, tone_pair):
    from sepviz.errors import SepvizInputError
    from sepviz.separate import listen_to_bins, move_attractor, separate

    mix, _ = tone_pair
    sep = separate(mix, 8000, str(fe_ckpt), "kmeans", 2)
    emb = sep.embedding
    sel = np.zeros(emb.spec.shape, bool)
    sel[:, :16] = True
    w = listen_to_bins(emb, sel)
    assert w.shape == mix.shape and np.isfinite(w).all() and np.abs(w).max() > 0
    with pytest.raises(SepvizInputError, match="grid"):
        listen_to_bins(emb, np.ones((5, 129), bool))  # an STFT-sized selection
    moved = move_attractor(sep, 0, np.ones(sep.attractors.shape[1], np.float32))
    assert len(moved.voices) == 2 and all(len(v) == len(mix) for v in moved.voices)
    assert moved.masks.shape == sep.masks.shape


def test_ideal_masks_on_the_latent_add_up_to_the_autoencoding(fe_ckpt, tone_pair):
    from sepviz.checkpoint import load_checkpoint
    from sepviz.metrics import ideal_mask_separation

    fe = load_checkpoint(fe_ckpt).frontend
    mix, src = tone_pair
    for kind in ("ibm", "irm", "wfm"):
        est = ideal_mask_separation(mix, src, kind, frontend=fe)
        assert est.shape == src.shape and np.isfinite(est).all()
        with torch.no_grad():
            auto = fe(torch.from_numpy(mix.astype(np.float64))[None])[0].numpy()
        assert np.allclose(est.sum(0), auto, atol=1e-4)  # the masks sum to one in every cell
    from sepviz.frontend import frontend_features

    view = frontend_features(fe, torch.from_numpy(mix))  # the mixture seen once, as evaluation holds it
    again = ideal_mask_separation(mix, src, "wfm", frontend=fe, mixture_view=view)
    assert np.allclose(again, est, atol=1e-4)


def test_evaluate_scores_the_model_and_the_oracles_on_the_latent(capsys, tmp_path, fe_ckpt, wsj0_2mix_dir):
    out_json = tmp_path / "eval.json"
    code = main(["evaluate", "--checkpoint", str(fe_ckpt), "--data", str(wsj0_2mix_dir), "--clusterer", "kmeans",
                 "oracle", "--no-pesq", "--limit", "2", "--json", str(out_json)])
    out, err = capsys.readouterr()
    assert code == 0, err
    res = json.loads(out_json.read_text())
    assert res["n"] == 2 and set(res["model"]) == {"kmeans", "oracle"} and set(res["oracle"]) == {"ibm", "irm", "wfm"}
    for group in ("model", "oracle"):
        for scores in res[group].values():
            assert np.isfinite(scores["si_snri"]) and np.isfinite(scores["sdri"])
    assert np.isfinite(res["geometry"]["silhouette"])


def test_calibration_resynthesises_a_front_end_model_through_its_back_end(capsys, tmp_path, fe_ckpt, wsj0_2mix_dir):
    """The mask temperature of a learned-front-end model is chosen like an STFT model's (its voices come
    from the back-end, not the iSTFT) and written into its checkpoint."""
    import shutil

    from training.calibrate import main as calibrate

    ckpt = shutil.copy(fe_ckpt, tmp_path / "fe.pt")
    assert calibrate(["--checkpoint", str(ckpt), "--data", str(wsj0_2mix_dir), "--limit", "2", "--grid", "1,2",
                      "--write"]) == 0, capsys.readouterr().err
    assert set(load_checkpoint(ckpt).config.mask_temperature) == {"2"}

def test_the_studio_draws_the_latent_and_the_learned_filters(fe_dir, tones, tmp_path, tiny_checkpoint):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import app
    import gradio as gr

    (fe_dir / "stft.pt").write_bytes(Path(tiny_checkpoint).read_bytes())
    studio = app.Studio(fe_dir, max_seconds=8, examples={}, include_fsdd=False, work_dir=tmp_path / "work",
                        read_dirs=[Path(tones["mix"]).parent])
    args = (tones["mix"], tones["s1"], tones["s2"], None, "adaptive", "kmeans", "2", 10, "PCA 2D", "true speaker",
            None, 1000, 0, 0)
    out = studio.separate(*args, progress=None)
    status, v1, v2, _, _, emb_fig, spec_fig, mask_fig, metrics, report, *_ = out
    assert v1["visible"] and v2["visible"] and "SI-SNRi" in metrics
    for fig in (spec_fig, mask_fig):
        assert fig.layout.yaxis.title.text == "learned filter (sorted by centre frequency)"
        layout = fig.to_dict()["layout"]
        assert "time (s)" in [v.get("title", {}).get("text") for k, v in layout.items() if k.startswith("xaxis")]
        assert np.asarray(fig.data[0].z).shape[0] == 32
    assert [t.name for t in spec_fig.data if t.type == "heatmap"] == ["mixture", "voice 1", "voice 2"]
    assert spec_fig.layout.dragmode == "select"  # the mixture's panel takes box selections
    # a box on the latent's rows: the filters it covers, heard alone and lit
    sound, note, ringed, lit_fig = studio.listen_selection(
        json.dumps({"source": "spectrogram", "box": [[0.2, 1.0], [0, 10]]}), *args)
    assert sound["visible"] and "learned filters 0-10" in note
    assert any(t.name == "selected bins" for t in lit_fig.data) and ringed != gr.skip()
    # the Teaching tab: this model's learned filters; an STFT model's bases and a sentence saying so
    note, fig = studio.frontend_teaching("adaptive")
    assert "learned filters" in note and [t.name for t in fig.data][:2] == ["learned filters", "STFT bases"]
    note, fig = studio.frontend_teaching("stft")
    assert "uses the **STFT**" in note and [t.name for t in fig.data] == ["STFT bases", "STFT responses"]
    demo = app.build_demo(studio)  # the page builds with the section
    assert demo is not None


# --------------------------------------------------------------------------- labels: filters, not Hz
def _studio(fe_dir: Path, tones: dict, tmp_path: Path, tiny_checkpoint) -> object:
    """The studio over the front-end model ("adaptive") and an STFT one ("stft")."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import app

    (fe_dir / "stft.pt").write_bytes(Path(tiny_checkpoint).read_bytes())
    return app.Studio(fe_dir, max_seconds=8, examples={}, include_fsdd=False, work_dir=tmp_path / "work",
                      read_dirs=[Path(tones["mix"]).parent])


def _centres(fe_ckpt: Path) -> np.ndarray:
    from sepviz.checkpoint import load_checkpoint

    return load_checkpoint(fe_ckpt).frontend.centre_frequencies().numpy()


def test_the_cloud_and_its_export_name_each_point_by_its_filter(fe_dir, fe_ckpt, tones, tmp_path, tiny_checkpoint):
    """A latent row is a learned filter: the hover says "filter k (≈ c Hz)" with the filter's centre
    frequency, and the export has `filter` and `centre_hz` columns; an STFT model's stay in Hz."""
    import zipfile

    studio = _studio(fe_dir, tones, tmp_path, tiny_checkpoint)
    centres = _centres(fe_ckpt)
    refs = (tones["s1"], tones["s2"], None)
    for model in ("adaptive", "stft"):
        args = (tones["mix"], *refs, model, "kmeans", "2", 10, "PCA 2D", "true speaker", None, 1000, 0, 0)
        emb_fig = studio.separate(*args, progress=None)[5]
        dots = [t for t in emb_fig.data if t.name.startswith("true speaker")]
        cd = np.concatenate([np.asarray(t.customdata) for t in dots])
        zpath, npz_path = studio.export_embeddings(tones["mix"], *refs, model, "kmeans", "2", 10, "PCA 2D", None,
                                                   1000, 0, 0, progress=None)
        header = zipfile.ZipFile(zpath).read("metadata.tsv").decode().splitlines()[0]
        table = np.load(npz_path)
        if model == "stft":  # as before: the bin's frequency, four columns (the bin index last)
            assert cd.shape[1] == 4 and all("%{customdata[1]:.0f} Hz ·" in t.hovertemplate for t in dots)
            assert header == "time_s\tfrequency_hz\tpower_db\tassigned_voice\ttrue_voice"
            assert "frequency_hz" in table and "filter" not in table
            continue
        assert all(t.hovertemplate.startswith("t %{customdata[0]:.2f} s · filter %{customdata[4]:.0f} "
                                              "(≈ %{customdata[1]:.0f} Hz) · ") for t in dots)
        assert cd.shape[1] == 5 and np.array_equal(cd[:, 4], cd[:, 3] % 32)  # the bin index stays column 3
        assert np.allclose(cd[:, 1], centres[cd[:, 4].astype(int)])
        assert header == "time_s\tfilter\tcentre_hz\tpower_db\tassigned_voice\ttrue_voice"
        assert "frequency_hz" not in table and np.array_equal(table["filter"], table["bin_index"] % 32)
        assert np.allclose(table["centre_hz"], centres[table["filter"]])


def test_the_compare_tabs_masks_are_the_latents_filters_by_centre_frequency(fe_dir, fe_ckpt, tones, tmp_path,
                                                                            tiny_checkpoint):
    """The Compare tab draws a front-end model's masks as the Separation tab draws its latent: the
    filters sorted by centre frequency, one row each, and says so (not "Hz")."""
    from sepviz import viz
    from sepviz.checkpoint import load_checkpoint

    studio = _studio(fe_dir, tones, tmp_path, tiny_checkpoint)
    order = load_checkpoint(fe_ckpt).frontend.sort_order().numpy()
    for model in ("adaptive", "stft"):
        grid, _, _ = studio.compare(tones["mix"], tones["s1"], tones["s2"], None, model, ["kmeans"], "2", 10,
                                    "PCA 2D", None, 1000, 0, 0, progress=None)
        heat = next(t for t in grid.data if t.type == "heatmap")
        titles = [v.get("title", {}).get("text") for k, v in grid.to_dict()["layout"].items() if k.startswith("yaxis")]
        if model == "stft":
            assert "Hz" in titles and "%{y:.0f} Hz" in heat.hovertemplate and np.asarray(heat.z).shape[0] == 129
            continue
        assert "learned filter (sorted by centre frequency)" in titles and "Hz" not in titles
        assert "Hz" not in heat.hovertemplate and np.array_equal(np.asarray(heat.y), np.arange(32))
        # the rows are the filters in the latent panels' order
        emb, emb_key, _, refs, refs_key = studio._prepare(tones["mix"], (tones["s1"], tones["s2"], None), model,
                                                          None, None)
        sep, _ = studio.get_separation(emb, emb_key, "kmeans", "2", 10, refs, refs_key)
        want, _, _ = viz.mask_composite(sep.masks[:, :, order], emb.mag.numpy()[:, order],
                                        max_cols=max(100, viz.MAX_COLUMNS))
        assert np.array_equal(np.asarray(heat.z), want)


def test_the_analysis_stage_is_timed_as_the_front_end(capsys, fe_ckpt, tiny_checkpoint, tones, tmp_path):
    """No STFT runs for a front-end model: its timings say "frontend" (the CLI prints "front-end");
    an STFT model's still say "stft"."""
    from sepviz.separate import embed

    mix, sr = sf.read(tones["mix"])
    timings = embed(mix, sr, str(fe_ckpt)).timings
    assert {"load", "frontend", "network"} <= set(timings) and "stft" not in timings
    assert {"load", "stft", "network"} <= set(embed(mix, sr, str(tiny_checkpoint)).timings)
    for ckpt, stage, other in ((fe_ckpt, "front-end", "stft"), (tiny_checkpoint, "stft", "front-end")):
        code = main(["separate", tones["mix"], "--checkpoint", str(ckpt), "--out", str(tmp_path / "v")])
        out, err = capsys.readouterr()
        line = next(x for x in out.splitlines() if x.startswith("timings (s):"))
        assert code == 0, err
        assert f" {stage} " in line and f" {other} " not in line and "network" in line


def test_a_stored_recipe_reads_flat_or_grouped_through_sepviz(tmp_path):
    """One flat view of a stored training config, in sepviz (training re-exports it): the studio's
    model labels see an SCE weight stored flat (older cards) or in the `loss` table."""
    import training.config
    from sepviz import model_card
    from sepviz.studio.models import Checkpoints

    assert training.config.flat_recipe is model_card.flat_recipe
    assert set(training.config.GROUPS) == set(model_card.RECIPE_GROUPS)
    assert model_card.flat_recipe({"lr": 1e-3, "loss": {"sce_weight": 0.5}, "schedule": {"patience": 2}}) == \
        {"lr": 1e-3, "sce_weight": 0.5, "patience": 2}
    for name, recipe in (("flat", {"sce_weight": 0.5}), ("grouped", {"loss": {"sce_weight": 0.5}}),
                         ("plain", {"loss": {"sce_weight": 0.0}})):
        _save_frontend_danet(tmp_path / f"{name}.pt", training={"recipe": recipe})
    shelf = Checkpoints(tmp_path)
    assert shelf.model_label("flat").startswith("flat (DANet + source-contrastive, learned front-end,")
    assert shelf.model_label("grouped").startswith("grouped (DANet + source-contrastive, learned front-end,")
    assert shelf.model_label("plain").startswith("plain (DANet, learned front-end,")


def test_the_shipped_adaptive_model_separates_two_tones_and_says_what_it_is(tone_pair):
    """checkpoints/adaptive.pt: loads alone, reads its learned front-end, and pulls apart two
    harmonic tones far apart in pitch (each voice closer to its own tone than the mixture is)."""
    from sepviz.metrics import si_snr
    from sepviz.separate import separate
    from sepviz.studio.models import Checkpoints

    path = Path(__file__).resolve().parents[1] / "checkpoints" / "adaptive.pt"
    model = load_checkpoint(path)
    assert model.frontend is not None and model.net.n_freq == model.frontend.config.n_filters
    mix, src = tone_pair
    sep = separate(mix, 8000, path, "kmeans", 2)
    voices = np.stack(sep.voices_model_sr)[:, : src.shape[1]]
    gain = [max(si_snr(v, s) for v in voices) - si_snr(mix, s) for s in src]
    assert min(gain) > 3.0, gain
    assert "learned front-end" in Checkpoints(path.parent).model_label("adaptive")
