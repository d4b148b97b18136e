"""The Gradio studio (app.py): handlers called directly, the embedding cache, user-facing errors,
the Blocks build, and the /separate endpoint through gradio_client."""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import pytest
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import app  # noqa: E402
from sepviz import viz  # noqa: E402
from sepviz.checkpoint import build_danet, save_checkpoint  # noqa: E402
from sepviz.danet import DANetConfig  # noqa: E402
from sepviz.errors import SepvizInputError  # noqa: E402
from sepviz.examples import Example  # noqa: E402

SR = 16000  # uploads come at any rate; the model runs at 8 kHz

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),  # inside gradio's queue (pandas 3)
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
              pytest.mark.usefixtures("one_thread")]


def talker(f0: float, seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A voiced 'talker': harmonics of a wobbling f0 under a syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * (0.7 + rng.random()) * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    wave = sum(np.sin(h * phase) / h for h in range(1, 12) if h * f0 < sr / 2 - 200)
    env = np.clip(np.sin(2 * np.pi * (3 + rng.random()) * t + rng.random() * 6), 0, None) ** 0.5
    return (0.3 * wave * env + 0.003 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    m = build_danet(DANetConfig(model="blstm", model_kwargs=dict(hidden=32, layers=1), n_anchors=4,
                                mask_temperature={"2": 1.2, "3": 1.6}))
    m.fixed_attractors.normal_()
    save_checkpoint(d / "default.pt", m, training={"corpus": "none"}, metrics={"synth2_unseen": {
        "n": 3, "model": {"kmeans": {"si_snri": 1.5}}, "oracle": {"wfm": {"si_snri": 9.0}}}})
    save_checkpoint(d / "gru.pt", build_danet(DANetConfig(model="bgru", model_kwargs=dict(hidden=16, layers=1),
                                                          keep=0.8)))
    return d


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("audio")
    secs = 2.0
    srcs = [talker(110, secs, seed=1), talker(230, secs, seed=2), talker(160, secs, seed=3)]
    out = {}
    mix2 = srcs[0] + srcs[1]
    sf.write(d / "mix2.wav", np.stack([mix2, mix2], 1), SR, subtype="PCM_16")  # stereo, 16 kHz
    sf.write(d / "mix3.flac", srcs[0] + srcs[1] + srcs[2], SR)
    for i, s in enumerate(srcs, 1):
        sf.write(d / f"s{i}.wav", s, SR, subtype="PCM_16")
    sf.write(d / "silent.wav", np.zeros(SR, np.float32), SR)
    sf.write(d / "short.wav", srcs[0][:SR], SR)  # 1 s: audio, but not this mixture's source
    sf.write(d / "tiny.wav", srcs[0][: SR // 10], SR)  # 0.1 s: too short to separate
    sf.write(d / "long.wav", np.tile(mix2, 5), SR, subtype="PCM_16")  # 10 s
    (d / "text.wav").write_text("this is not audio")
    ex_dir = d / "ex2"
    ex_dir.mkdir()
    for name in ("mix2.wav", "s1.wav", "s2.wav"):
        (ex_dir / name.replace("mix2", "mix")).write_bytes((d / name).read_bytes())
    (ex_dir / "meta.json").write_text(json.dumps({"speakers": ["a", "b"], "genders": ["m", "f"]}))
    out = {k: str(d / f) for k, f in [("mix2", "mix2.wav"), ("mix3", "mix3.flac"), ("s1", "s1.wav"), ("s2", "s2.wav"),
                                        ("s3", "s3.wav"), ("silent", "silent.wav"), ("short", "short.wav"), ("tiny", "tiny.wav"),
                                        ("long", "long.wav"), ("text", "text.wav")]}
    out["example"] = Example("ex2", ex_dir / "mix.wav", [ex_dir / "s1.wav", ex_dir / "s2.wav"], "bundled",
                             {"speakers": ["a", "b"], "genders": ["m", "f"]})
    return out


@pytest.fixture()
def studio(ckpt_dir, audio, tmp_path) -> app.Studio:
    return app.Studio(ckpt_dir, max_seconds=8, examples={"ex2": audio["example"]}, include_fsdd=False,
                      work_dir=tmp_path / "work", read_dirs=[Path(audio["mix2"]).parent, tmp_path])


def run(studio, audio_path, refs=(None, None, None), model=None, clusterer="kmeans", n="2", beta=10,
        projection="PCA 2D", color_by="assigned speaker", keep=None, n_points=1000, t_from=0, t_to=0):
    return studio.separate(audio_path, *refs, model, clusterer, n, beta, projection, color_by, keep, n_points,
                           t_from, t_to)


def user_message(excinfo) -> str:
    err = excinfo.value
    return getattr(err, "message", str(err))


# ----------------------------------------------------------------------------- handlers
def test_separate_returns_voices_figures_and_status(studio, audio):
    out = run(studio, audio["mix2"])
    assert len(out) == app.N_MAIN_OUTPUTS
    status, v1, v2, v3, zipped, emb, spec, masks, metrics, report, *extras, results = out
    assert "2 voices" in status and "k-means" in status
    assert v1["visible"] and v2["visible"] and not v3["visible"] and results["visible"]
    for p in (v1["value"], v2["value"]):
        w, sr = sf.read(p)
        assert sr == SR and len(w) == 2 * SR  # back at the upload's rate and length
    import zipfile

    assert zipped["visible"]
    with zipfile.ZipFile(zipped["value"]) as zf:  # one zip of all voices, the same bytes as the players
        assert zf.namelist() == ["voice1.wav", "voice2.wav"]
        assert zf.read("voice2.wav") == Path(v2["value"]).read_bytes()
    assert report["talkers"] == {"asked": 2, "found": 2} and report["clusterer"] == "kmeans"
    assert all(isinstance(f, go.Figure) for f in (emb, spec, masks))
    assert "attractors" in [t.name for t in emb.data]
    assert all(viz.figure_json_size(f) < viz.MAX_FIGURE_BYTES for f in (emb, spec, masks))
    assert "reference" in metrics.lower()  # the "upload references" hint


def test_changing_clusterer_and_plots_reuses_the_cached_embeddings(studio, audio):
    refs = (audio["s1"], audio["s2"], None)
    run(studio, audio["mix2"], refs=refs)
    assert studio.network_runs == 1
    for clusterer in ("gmm", "gmm_tied", "soft_kmeans", "fixed", "anchors", "oracle"):
        out = run(studio, audio["mix2"], refs=refs, clusterer=clusterer, color_by="true speaker")
        assert out[1]["visible"]
    run(studio, audio["mix2"], refs=refs, projection="PCA 3D", n_points=2000, t_from=0.5, t_to=2.0, color_by="power")
    run(studio, audio["mix2"], refs=refs, n="auto")
    assert studio.network_runs == 1, "the network must run once per (audio, model, keep)"
    run(studio, audio["mix2"], refs=refs, keep=0.7)
    assert studio.network_runs == 2
    run(studio, audio["mix2"], refs=refs, model="gru")
    assert studio.network_runs == 3


def test_gmm_anchors_and_metrics_show_up(studio, audio):
    refs = (audio["s1"], audio["s2"], audio["s3"])
    out = run(studio, audio["mix3"], refs=refs, clusterer="gmm", n="3", color_by="true speaker")
    assert out[3]["visible"]
    names = [t.name or "" for t in out[5].data]
    assert sum(n.startswith("GMM") for n in names) == 6 and "true speaker s3" in names
    assert "SI-SNRi" in out[8] and "| **mean**" in out[8]
    assert f"**{out[9]['metrics']['means']['si_snri']:.1f}**" in out[8]  # the report carries the table's numbers
    out = run(studio, audio["mix3"], refs=refs, clusterer="anchors", n="3", projection="PCA 3D")
    assert "anchors (chosen)" in [t.name for t in out[5].data]
    out = run(studio, audio["mix3"], refs=refs, clusterer="oracle", n="auto")
    assert "3 voices" in out[0]


@pytest.mark.parametrize("fmt, sr", [("OGG", 22050), ("MP3", 44100), ("FLAC", 48000)])
def test_compressed_uploads_at_any_rate(studio, audio, tmp_path, fmt, sr):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    from sepviz.audio import load_audio, resample

    mix, _ = load_audio(audio["mix2"], target_sr=8000)
    x = resample(mix, 8000, sr) * 0.5
    path = tmp_path / f"upload.{fmt.lower()}"
    sf.write(path, np.stack([x, x], 1), sr, format=fmt)  # stereo
    out = run(studio, str(path))
    assert "2 voices" in out[0]
    assert sf.info(out[1]["value"]).samplerate == sr


@pytest.mark.parametrize("case, kwargs, message", [
    ("no audio", dict(audio_path=None), "Upload or record"),
    ("not audio", dict(audio_path="text"), "not an audio file"),
    ("silent", dict(audio_path="silent"), "silent"),
    ("too short", dict(audio_path="tiny"), "at least"),
    ("too long", dict(audio_path="long"), "limit is 8 s"),
    ("one reference", dict(refs=("s1", None, None)), "at least two reference"),
    ("refs vs n", dict(refs=("s1", "s2", "s3"), n="2"), "set the number of speakers to 3"),
    ("oracle without refs", dict(clusterer="oracle"), "needs the reference sources"),
    ("unknown clusterer", dict(clusterer="spectral"), "unknown clusterer"),
    ("unknown model", dict(model="../../etc/passwd"), "unknown model"),
    ("bad time range", dict(t_from=2.0, t_to=1.0), "must be after its start"),
    ("bad projection", dict(projection="TSNE 2D"), "unknown projection"),
    ("bad n", dict(n="7"), "2, 3 or auto"),
    ("ref not audio", dict(refs=("s1", "text", None)), "reference s2"),
    ("ref length", dict(refs=("s1", "short", None)), "must be the isolated sources"),
])
def test_bad_inputs_give_a_user_message(studio, audio, case, kwargs, message):
    path = kwargs.pop("audio_path", "mix2")
    refs = tuple(audio[r] if r else None for r in kwargs.pop("refs", (None, None, None)))
    handler = app._close(studio.separate)
    with pytest.raises(gr.Error) as excinfo:
        handler(audio[path] if path else None, *refs, kwargs.get("model"), kwargs.get("clusterer", "kmeans"),
                kwargs.get("n", "2"), 10, kwargs.get("projection", "PCA 2D"), "assigned speaker", None, 1000,
                kwargs.get("t_from", 0), kwargs.get("t_to", 0))
    assert message in user_message(excinfo), (case, user_message(excinfo))
    assert "Traceback" not in user_message(excinfo)


def test_no_checkpoints_and_corrupt_checkpoint(tmp_path, audio):
    empty = app.Studio(tmp_path / "none", include_fsdd=False, examples={}, work_dir=tmp_path / "w1")
    demo = app.build_demo(empty)  # builds, shows a message instead of crashing
    assert isinstance(demo, gr.Blocks)
    assert "No checkpoints found" in empty.model_card(None)
    with pytest.raises(gr.Error) as excinfo:
        app._close(empty.separate)(audio["mix2"], None, None, None, None, "kmeans", "2", 10, "PCA 2D",
                                   "assigned speaker", None, 1000, 0, 0)
    assert "No checkpoints found" in user_message(excinfo)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.pt").write_bytes(b"\x00not a checkpoint")
    s = app.Studio(bad, include_fsdd=False, examples={}, work_dir=tmp_path / "w2",
                   read_dirs=[Path(audio["mix2"]).parent])
    assert "not a readable sepviz checkpoint" in s.model_card("broken")
    with pytest.raises(gr.Error) as excinfo:
        app._close(s.separate)(audio["mix2"], None, None, None, "broken", "kmeans", "2", 10, "PCA 2D",
                               "assigned speaker", None, 1000, 0, 0)
    assert "not a readable sepviz checkpoint" in user_message(excinfo)


def test_model_card_and_clusterer_choices(studio):
    card = studio.model_card("default")
    assert "blstm" in card and "parameters" in card and "ADANet anchors" in card
    assert "| mask temperature | 1.2 for 2 talkers, 1.6 for 3 talkers |" in card
    assert "mask temperature" not in studio.model_card("gru")
    assert "synth2_unseen (3 mixtures), SI-SNRi dB: kmeans 1.50 (best); WFM oracle 9.00" in card
    assert studio.clusterers_for("default", False) == ["kmeans", "gmm", "gmm_tied", "soft_kmeans", "fixed", "anchors"]
    assert studio.clusterers_for("gru", True) == ["kmeans", "gmm", "gmm_tied", "soft_kmeans", "oracle"]
    assert studio.default_model == "default"


def test_compare_tab(studio, audio):
    refs = (audio["s1"], audio["s2"], None)
    grid, mismatch, table = studio.compare(audio["mix2"], *refs, None, ["kmeans", "gmm", "anchors"], "2", 10,
                                           "PCA 2D", None, 800, 0, 0)
    assert isinstance(grid, go.Figure) and isinstance(mismatch, go.Figure)
    assert "SI-SNRi" in table and "ADANet anchors" in table
    assert any("ideal" in (t.name or "") for t in mismatch.data)
    grid, mismatch, table = studio.compare(audio["mix2"], None, None, None, None, ["kmeans", "soft_kmeans"], "2",
                                           10, "PCA 3D", None, 800, 0, 0)
    assert mismatch is None and "references" in table
    assert studio.network_runs == 1
    with pytest.raises(gr.Error):
        app._close(studio.compare)(audio["mix2"], None, None, None, None, [], "2", 10, "PCA 2D", None, 800, 0, 0)


def test_examples_and_atlas(studio, audio):
    mix, r1, r2, r3, n, info = studio.load_example("ex2")
    assert Path(mix).is_file() and Path(r1).is_file() and r3 is None and n == "2" and "2 talkers" in info
    with pytest.raises(SepvizInputError):
        studio.load_example("../secret")
    fig = studio.atlas(None, "2D", "gender")
    assert {t.name for t in fig.data} >= {"male", "female"}
    runs = studio.network_runs
    studio.atlas(None, "3D", "speaker")  # cached
    assert studio.network_runs == runs


def test_auto_count_says_when_the_model_cannot_tell_a_third_talker(studio, audio):
    status = run(studio, audio["mix3"], n="auto")[0]  # the test models are 2-talker models
    assert "**2 voices**" in status and "trained on 2-talker mixtures only" in status
    assert "auto: 2 talkers" in status
    assert "**3 voices**" in run(studio, audio["mix3"], n="3")[0]


def test_voice_files_are_pruned(studio, audio):
    for n in ("2", "auto"):
        run(studio, audio["mix2"], n=n)
    run(studio, audio["mix2"], clusterer="soft_kmeans")
    assert len(list(studio.work_dir.iterdir())) >= 2
    studio._prune_work_dir(keep=2)
    assert len(list(studio.work_dir.iterdir())) == 1


def test_api_function(studio, audio):
    v1, v2, v3, report = studio.api_separate(audio["mix2"])
    assert Path(v1).is_file() and Path(v2).is_file() and v3 is None
    assert report["talkers"]["found"] == 2 and len(report["voices"]) == 2
    *out, report = studio.api_separate(audio["mix3"], "gru", "gmm", "3")
    assert all(Path(p).is_file() for p in out) and report["model"] == "gru" and report["clusterer"] == "gmm"


# ----------------------------------------------------------------------------- served app
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gradio_client_separate_endpoint(studio, audio):
    from gradio_client import Client, handle_file

    demo = app.build_demo(studio)
    demo.queue(default_concurrency_limit=2)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size="10mb", **app.launch_kwargs(studio))
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == \
            ["/separate", "/export_embeddings"]
        v1, v2, v3, report = client.predict(handle_file(audio["mix2"]), api_name="/separate")
        assert Path(v1).is_file() and Path(v2).is_file() and v3 is None
        assert sf.info(v1).samplerate == SR
        assert report["talkers"] == {"asked": 2, "found": 2} and report["model"] == "default"
        assert report["clusterer"] == app.DEFAULT_CLUSTERER and report["warnings"] == []
        assert [v["voice"] for v in report["voices"]] == [1, 2] and report["audio"]["sample_rate"] == SR
        assert report["timings_s"]["total"] > 0
        *out, report = client.predict(handle_file(audio["mix3"]), model="default", clusterer="gmm", n_speakers="3",
                                      api_name="/separate")
        assert all(Path(p).is_file() for p in out) and report["talkers"]["found"] == 3
        with pytest.raises(Exception, match="not an audio file"):
            client.predict(handle_file(audio["text"]), api_name="/separate")
        # the export: the plotted bins' embeddings with their metadata, true voice from the references
        zpath, npz = client.predict(handle_file(audio["mix2"]), ref1=handle_file(audio["s1"]),
                                    ref2=handle_file(audio["s2"]), n_points=700, api_name="/export_embeddings")
        _check_export(zpath, npz, n=700, k=studio.get_model(None).emb_dim, truth=True)
        with pytest.raises(Exception, match="send an audio file"):
            client.predict(None, api_name="/export_embeddings")
    finally:
        demo.close()


def _check_export(zpath, npz, *, n: int, k: int, truth: bool) -> dict:
    """Both export files hold the same ``n`` bins: K-wide vectors, a header and one row per bin."""
    import zipfile

    with zipfile.ZipFile(zpath) as zf:
        assert sorted(zf.namelist()) == ["metadata.tsv", "vectors.tsv"]
        vectors = np.loadtxt(zf.open("vectors.tsv"), delimiter="\t", ndmin=2)
        meta = zf.read("metadata.tsv").decode().splitlines()
    cols = ["time_s", "frequency_hz", "power_db", "assigned_voice"] + (["true_voice"] if truth else [])
    assert meta[0].split("\t") == cols and len(meta) == n + 1 and vectors.shape == (n, k)
    data = np.load(npz)
    assert data["vectors"].shape == (n, k) and set(cols) <= set(data.files)
    np.testing.assert_allclose(data["vectors"], vectors, rtol=1e-4, atol=1e-5)  # the same bins, in the same order
    rows = np.array([r.split("\t") for r in meta[1:]], float)
    np.testing.assert_allclose(rows[:, 0], data["time_s"], atol=1e-3)
    assert set(data["assigned_voice"].tolist()) <= {1, 2, 3} and (data["power_db"] <= 0).all()
    assert (data["frequency_hz"] >= 0).all() and (data["frequency_hz"] <= 4000).all()
    return dict(data)


def test_export_embeddings_of_the_shown_bins(studio, audio):
    runs = studio.network_runs
    out = run(studio, audio["mix2"], n_points=800)
    zpath, npz = studio.export_embeddings(audio["mix2"], None, None, None, None, "kmeans", "2", 10, "PCA 2D", None,
                                          800, 0, 0, progress=None)
    data = _check_export(zpath, npz, n=800, k=studio.get_model(None).emb_dim, truth=False)
    assert studio.network_runs == runs + 1  # the export reuses the separation's embeddings
    emb_fig = out[5]
    shown = sum(len(t.x) for t in emb_fig.data if (t.name or "").startswith("voice"))
    assert shown == 800  # the bins the cloud shows, each voice's as coloured there
    voice1 = next(t for t in emb_fig.data if t.name == "voice 1")
    assert (data["assigned_voice"] == 1).sum() == len(voice1.x)
    # a time range: only its bins; references: the true voice
    zpath, npz = studio.export_embeddings(audio["mix2"], audio["s1"], audio["s2"], None, None, "kmeans", "2", 10,
                                          "PCA 2D", None, 500, 1.0, 0, progress=None)
    data = _check_export(zpath, npz, n=500, k=studio.get_model(None).emb_dim, truth=True)
    assert data["time_s"].min() >= 1.0 - 0.01
    assert set(data["true_voice"].tolist()) == {1, 2}  # both references own some of the bins
    shown = studio.export_ui(audio["mix2"], None, None, None, None, "kmeans", "2", 10, "PCA 2D", None, 800, 0, 0)
    assert shown["visible"] and [Path(p).name for p in shown["value"]] == ["embeddings_projector.zip", "embeddings.npz"]
    with pytest.warns(UserWarning):
        bad = studio.export_ui(None, None, None, None, None, "kmeans", "2", 10, "PCA 2D", None, 800, 0, 0)
    assert not bad["visible"]


def test_moving_an_attractor_changes_its_voice_without_the_network(studio, audio):
    args = (audio["mix2"], None, None, None, None, "kmeans", "2", 10, "PCA 2D", "assigned speaker", None, 1000, 0, 0,
            "auto", "model")
    before = studio.separate(*args, "1", 0, 0, progress=None)
    runs = studio.network_runs
    after = studio.separate(*args, "1", 2.0, -1.0, progress=None)
    assert studio.network_runs == runs  # the cached embeddings, no network
    w0, w1 = sf.read(before[1]["value"])[0], sf.read(after[1]["value"])[0]
    assert w0.shape == w1.shape and np.abs(w0 - w1).max() > 1e-3  # voice 1 sounds different
    assert "attractor 1 moved +2.0 along PC1 and -1.0 along PC2" in after[0]
    assert after[9]["moved_attractor"] == {"attractor": 1, "pc1": 2.0, "pc2": -1.0}
    # the diamond sits where it was moved: two spreads right and one down along the cloud's own axes
    att = lambda out: next(t for t in out[5].data if t.name == "attractors")  # noqa: E731
    emb, emb_key, _ = studio.get_embedding(studio.readable(audio["mix2"]), None, None)
    w, spread = studio.move_axes(emb, emb_key, "PCA 2D", 1000, None)
    np.testing.assert_allclose(att(after).x[0] - att(before).x[0], 2.0 * spread[0], rtol=1e-3)
    np.testing.assert_allclose(att(after).y[0] - att(before).y[0], -1.0 * spread[1], rtol=1e-3)
    np.testing.assert_allclose(att(after).x[1], att(before).x[1], atol=1e-5)  # the other one stays
    # put back: the same voices as before
    back = studio.separate(*args, "1", 0, 0, progress=None)
    assert back[1]["value"] == before[1]["value"] and "moved" not in back[0]
    # the export follows what is heard; a third attractor of two is said so
    export_args = args[:9] + args[10:]  # the export has no colouring
    still = np.load(studio.export_embeddings(*export_args, "1", 0, 0, progress=None)[1])["assigned_voice"]
    moved = np.load(studio.export_embeddings(*export_args, "1", 3.0, 0, progress=None)[1])["assigned_voice"]
    assert not np.array_equal(still, moved)
    with pytest.warns(UserWarning):
        bad = studio.separate_ui(*args, "3", 1.0, 0, progress=None)
    assert "there is no attractor 3" in bad[0] and not bad[-1]["visible"]


def test_a_selection_in_the_cloud_or_on_the_spectrogram_is_heard_alone_and_lit(studio, audio):
    import json

    from sepviz import selection

    args = (audio["mix2"], None, None, None, None, "kmeans", "2", 10, "PCA 2D", "assigned speaker", None, 1000, 0, 0)
    out = studio.separate(*args, progress=None)
    runs = studio.network_runs
    cloud_fig = out[5]
    voice1 = next(t for t in cloud_fig.data if t.name == "voice 1")
    bins = [int(b) for b in np.asarray(voice1.customdata)[:, 3]]  # the dots as the page names them
    # a box around voice 1's dots: all bins whose embeddings fall in it, heard alone
    box = [[float(np.min(voice1.x)), float(np.max(voice1.x))], [float(np.min(voice1.y)), float(np.max(voice1.y))]]
    sound, note, emb_fig, spec_fig = studio.listen_selection(
        json.dumps({"source": "cloud", "bins": bins, "lasso": None, "box": box}), *args)
    assert studio.network_runs == runs and sound["visible"] and "bins selected" in note
    w, sr = sf.read(sound["value"])
    mix, _ = sf.read(audio["mix2"])
    assert sr == SR and len(w) == len(mix) and 0 < np.sqrt(np.mean(w ** 2)) < np.sqrt(np.mean(mix[:, 0] ** 2))
    assert emb_fig == gr.skip()  # the cloud keeps plotly's own selection
    lit = next(t for t in spec_fig.data if t.name == "selected bins")
    assert np.isfinite(np.asarray(lit.z, float)).any()
    # every picked dot is inside the box, and the region holds more bins than the dots shown
    emb, emb_key, _ = studio.get_embedding(studio.readable(audio["mix2"]), None, None)
    cloud = studio.get_cloud(emb, emb_key, "PCA 2D", 1000, None)
    region = selection.region_mask(emb.v.numpy(), cloud.projector, box=box)
    assert region.reshape(-1)[bins].all() and region.sum() > len(bins)
    # a lasso: a triangle holds fewer bins than its bounding box
    tri = [[box[0][0], box[1][0]], [box[0][1], box[1][0]], [box[0][0], box[1][1]]]
    _, note_tri, _, _ = studio.listen_selection(json.dumps({"source": "cloud", "bins": bins[:5], "lasso": tri}), *args)
    count = lambda n: int(n.split("**")[1].split()[0].replace(",", ""))  # noqa: E731
    assert 0 < count(note_tri) < count(note)
    # the reverse: a rectangle on the spectrogram rings its bins in the cloud
    sound, note, emb_fig, spec_fig = studio.listen_selection(
        json.dumps({"source": "spectrogram", "box": [[0.5, 1.0], [0, 1000]]}), *args)
    ringed = next(t for t in emb_fig.data if t.name == "selected bins")
    times, hz = np.asarray(ringed.customdata)[:, 0], np.asarray(ringed.customdata)[:, 1]
    assert len(times) > 0 and (times >= 0.5 - 1e-6).all() and (times <= 1.0 + 1e-6).all() and (hz <= 1000).all()
    assert "0.50-1.00 s, 0-1000 Hz" in note and sound["visible"]
    # nothing inside, or an unreadable selection: said, never a traceback
    empty = studio.listen_selection(json.dumps({"source": "spectrogram", "box": [[9, 10], [0, 100]]}), *args)
    assert not empty[0]["visible"] and "Nothing selected" in empty[1]
    for bad in ("not json", json.dumps({"source": "elsewhere"}), json.dumps({"source": "cloud", "bins": [10 ** 9]}),
                json.dumps({"source": "spectrogram", "box": [["a", 1], [0, 1]]})):
        with pytest.warns(UserWarning):
            shown = studio.selection_ui(bad, *args)
        assert not shown[0]["visible"] and shown[1].startswith("⚠️"), bad


def test_points_in_polygon():
    from sepviz.selection import points_in_polygon

    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]])
    pts = np.array([[1, 1], [3, 1], [-0.5, 1], [1.9, 0.1], [1, 2.5]])
    assert points_in_polygon(pts, square).tolist() == [True, False, False, True, False]
    assert not points_in_polygon(pts, square[:2]).any()  # a line holds nothing


def test_loudness_weighting_is_a_control_and_part_of_the_cache_key(studio, audio):
    on = run(studio, audio["mix2"])
    runs = studio.network_runs
    off = studio.separate(audio["mix2"], None, None, None, None, "kmeans", "2", 10, "PCA 2D", "assigned speaker",
                          None, 1000, 0, 0, "none")
    assert studio.network_runs == runs  # same embeddings, new clustering
    assert off[1]["visible"] and on[1]["visible"]
    emb, key, *_ = studio._prepare(audio["mix2"], (None, None, None), None, None, None)
    a, ka = studio.get_separation(emb, key, "kmeans", "2", 10, None, None, "loudness")
    b, kb = studio.get_separation(emb, key, "kmeans", "2", 10, None, None, "none")
    assert ka != kb and a is not b
    # "auto" resolves by the number of talkers (on for 2, off for 3) and shares that fit's cache entry
    auto2, k_auto2 = studio.get_separation(emb, key, "kmeans", "2", 10, None, None, "auto")
    assert k_auto2 == ka and auto2 is a
    _, k_auto3 = studio.get_separation(emb, key, "kmeans", "3", 10, None, None, "auto")
    _, k_none3 = studio.get_separation(emb, key, "kmeans", "3", 10, None, None, False)  # a bare off works too
    assert k_auto3 == k_none3
    with pytest.raises(SepvizInputError, match="unknown fit weighting"):
        studio.get_separation(emb, key, "kmeans", "2", 10, None, None, "loud")
    g1, k1 = studio.get_separation(emb, key, "gmm", "2", 10, None, None, "loudness")
    g2, k2 = studio.get_separation(emb, key, "gmm", "2", 10, None, None, "none")
    assert k1 == k2 and g1 is g2  # the per-talker GMM ignores the weights: one cached result


def test_attractor_tracking_is_a_control_and_part_of_the_cache_key(studio, audio):
    """A model calibrated with tracking lets the attractors follow the talkers unless the switch is
    off; each setting is its own cached result, and the status and model card say so."""
    model = studio.get_model(None)
    saved = dict(model.config.attractor_tracking)
    model.config.attractor_tracking = {"2": {"frames": 8, "strength": 0.5}}
    try:
        emb, key, *_ = studio._prepare(audio["mix2"], (None, None, None), None, None, None)
        on, k_on = studio.get_separation(emb, key, "kmeans", "2", 10, None, None, "auto", "model")
        off, k_off = studio.get_separation(emb, key, "kmeans", "2", 10, None, None, "auto", "off")
        assert k_on != k_off and on.attractor_tracks is not None and off.attractor_tracks is None
        assert not np.allclose(on.masks, off.masks)
        g1, _ = studio.get_separation(emb, key, "gmm", "2", 10, None, None, "loudness", "model")
        g2, _ = studio.get_separation(emb, key, "gmm", "2", 10, None, None, "none", "model")
        assert not np.allclose(g1.masks, g2.masks)  # tracked masks weigh the bins as the fit does
        with pytest.raises(SepvizInputError, match="unknown attractor tracking"):
            studio.get_separation(emb, key, "kmeans", "2", 10, None, None, "auto", "sometimes")
        status = studio.separate(audio["mix2"], None, None, None, None, "kmeans", "2", 10, "PCA 2D",
                                 "assigned speaker", None, 1000, 0, 0, "auto", "model")[0]
        assert "attractors follow the talkers (0.14 s windows)" in status
        assert "| attractor tracking | +-8 frames, strength 0.5 (2 talkers) |" in studio.model_card(None)
        assert "one-talker warning" not in studio.model_card(None)
        model.config.one_talker_cosine = 0.88
        assert "| one-talker warning | two voices with attractor cosine > 0.88 |" in studio.model_card(None)
    finally:
        model.config.attractor_tracking = saved
        model.config.one_talker_cosine = None


# ----------------------------------------------------------------------------- files named by path
def test_handlers_read_only_uploads_examples_and_their_own_folders(studio, audio, tmp_path_factory):
    """A path outside the readable folders, a missing one and a link out of a readable folder all
    get the one refusal, for the mixture and the references alike, on every handler."""
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "real.wav"
    elsewhere.write_bytes(Path(audio["mix2"]).read_bytes())
    link = Path(audio["mix2"]).parent / "link_out.wav"
    link.unlink(missing_ok=True)
    link.symlink_to(elsewhere)
    missing = str(Path(audio["mix2"]).parent / "missing.wav")
    for bad in ("/etc/passwd", str(elsewhere), missing, str(link), "/nonexistent/x.wav"):
        for call in (lambda p: run(studio, p),
                     lambda p: run(studio, audio["mix2"], refs=(audio["s1"], p, None)),
                     lambda p: studio.api_separate(p),
                     lambda p: studio.compare(p, None, None, None, None, ["kmeans"], "2", 10, "PCA 2D", None, 800,
                                              0, 0)):
            with pytest.raises(SepvizInputError) as excinfo:
                call(bad)
            assert str(excinfo.value) == app.REFUSAL, bad
    assert studio.network_runs == 0
    ex = audio["example"]  # an example's own files are readable wherever they are
    assert "2 voices" in run(studio, str(ex.mix), refs=(str(ex.sources[0]), str(ex.sources[1]), None))[0]


def _queue_call(base: str, fn_index: int, trigger_id: int, data: list) -> dict:
    """One event through Gradio's queue, as the browser sends it: the last message's output."""
    import uuid

    import httpx

    session = uuid.uuid4().hex
    r = httpx.post(f"{base}/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "trigger_id": trigger_id,
                                                          "session_hash": session, "event_data": None})
    r.raise_for_status()
    with httpx.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}, timeout=60) as resp:
        for line in resp.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    return msg.get("output") or {}
    raise AssertionError("the queue closed without an answer")


def test_a_client_cannot_name_server_files(studio, audio, tmp_path_factory):
    """Through HTTP a client may describe an input file by its server path instead of uploading
    it: every such path, on the API endpoint and on the UI's own event (references too), gets the
    same refusal, and nothing is separated."""
    import httpx

    elsewhere = tmp_path_factory.mktemp("server_only") / "secret_mix.wav"
    elsewhere.write_bytes(Path(audio["mix2"]).read_bytes())
    demo = app.build_demo(studio)
    demo.queue(default_concurrency_limit=2)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size="10mb", **app.launch_kwargs(studio))
    base = f"http://127.0.0.1:{port}"
    try:
        paths = ["/etc/passwd", "/nonexistent/mix.wav", str(elsewhere), str(audio["example"].mix)]
        for p in paths:
            for value in ({"path": p, "meta": {"_type": "gradio.FileData"}}, p):  # a file description, a bare path
                r = httpx.post(f"{base}/gradio_api/call/separate", json={"data": [value, None, None, None]})
                r.raise_for_status()
                reply = httpx.get(f"{base}/gradio_api/call/separate/{r.json()['event_id']}", timeout=60).text
                assert "event: error" in reply and json.loads(reply.split("data:", 1)[1])["error"] == app.REFUSAL, (p, reply)
        # the UI's main event (private, but reachable by HTTP): a named reference is refused too
        run_btn = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "sv-run")
        fn_index, fn = next((i, f) for i, f in demo.fns.items() if (run_btn._id, "click") in f.targets)
        upload = _upload(base, audio["mix2"])
        for i, block in enumerate(fn.inputs):
            assert block.elem_id in (None, "sv-audio", "sv-ref1", "sv-ref2", "sv-ref3") or i > 3
        data = [getattr(b, "value", None) for b in fn.inputs]
        data[0] = upload
        data[1] = _upload(base, audio["s1"])
        data[2] = {"path": str(elsewhere), "meta": {"_type": "gradio.FileData"}}
        out = _queue_call(base, fn_index, run_btn._id, data)
        assert out.get("error") == app.REFUSAL, out
        assert studio.network_runs == 0
    finally:
        demo.close()


def _upload(base: str, path: str) -> dict:
    """Upload a file as a client does; its description names the copy in Gradio's cache."""
    import httpx

    with open(path, "rb") as fh:
        r = httpx.post(f"{base}/gradio_api/upload", files={"files": (Path(path).name, fh, "audio/wav")})
    r.raise_for_status()
    return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": Path(path).name}


# ----------------------------------------------------------------------------- report, errors on the page
def test_the_report_warns_of_quiet_clipped_and_fewer_talkers(studio, audio, tmp_path):
    """The report's warnings (code + words) are what the status line shows."""
    mix, _ = sf.read(audio["mix2"], dtype="float32")
    sf.write(tmp_path / "quiet.wav", mix * 0.01, SR, subtype="PCM_16")       # about -55 dBFS
    sf.write(tmp_path / "clipped.wav", np.clip(mix * 6, -1, 1), SR, subtype="PCM_16")
    *_, report = studio.api_separate(audio["mix2"])
    assert report["warnings"] == []
    for name, code in (("quiet", "too_quiet"), ("clipped", "clipped")):
        out = run(studio, str(tmp_path / f"{name}.wav"))
        status, report = out[0], out[9]
        assert [w["code"] for w in report["warnings"]] == [code], report["warnings"]
        assert f"⚠️ {report['warnings'][0]['message']}" in status
    model = studio.get_model(None)
    model.config.one_talker_cosine = -1.0  # every pair of attractors is "the same talker" now
    try:
        *_, report = studio.api_separate(audio["mix2"], None, "kmeans", "2")
        assert [(w["code"], w["reason"]) for w in report["warnings"]] == [("fewer_talkers", "same_attractor")]
        assert "fewer than 2 talkers" in report["warnings"][0]["message"]
    finally:
        model.config.one_talker_cosine = None


def test_a_bad_input_clears_the_results_and_says_why_once(studio, audio):
    ok = studio.separate_ui(audio["mix2"], None, None, None, None, "kmeans", "2", 10, "PCA 2D", "assigned speaker",
                            None, 1000, 0, 0)
    assert ok[-1]["visible"] and ok[1]["value"]
    with pytest.warns(UserWarning) as notices:
        bad = studio.separate_ui(audio["silent"], None, None, None, None, "kmeans", "2", 10, "PCA 2D",
                                 "assigned speaker", None, 1000, 0, 0)
    assert len(notices) == 1 and "silent" in str(notices[0].message)
    assert len(bad) == app.N_MAIN_OUTPUTS
    status, v1, v2, v3, zipped, emb, spec, masks, metrics, report, *extras, results = bad
    assert status.startswith("⚠️") and "silent" in status
    assert not results["visible"] and not zipped["visible"] and zipped["value"] is None
    assert all(v["value"] is None for v in (v1, v2, v3)) and (emb, spec, masks, metrics, report) == (None,) * 3 + ("", None)
    # the same for a new upload (the example and references are reset), an example, the Compare tab
    with pytest.warns(UserWarning):
        out = studio.new_audio(audio["text"], None, "oracle", ["kmeans"], "2", 10, "PCA 2D", "assigned speaker", None,
                               1000, 0, 0)
    assert out[:4] == ("", None, None, None) and not out[4]["visible"] and out[5]["value"] == app.DEFAULT_CLUSTERER
    assert "not an audio file" in out[7] and not out[-1]["visible"]
    with pytest.warns(UserWarning):
        out = studio.pick_example("../secret", None, "kmeans", [], 10, "PCA 2D", "assigned speaker", None, 1000, 0, 0)
    assert "unknown example" in out[8] and not out[-1]["visible"]
    with pytest.warns(UserWarning):
        grid, mismatch, table = studio.compare_ui(audio["mix2"], None, None, None, None, [], "2", 10, "PCA 2D", None,
                                                  800, 0, 0)
    assert not grid["visible"] and not mismatch["visible"] and "tick at least one" in table


def test_an_example_fills_the_input_and_separates(studio):
    out = studio.pick_example("ex2", None, "kmeans", ["kmeans"], 10, "PCA 2D", "assigned speaker", None, 1000, 0, 0)
    mix, r1, r2, r3, n, info, menu, ticks, status = out[:9]
    assert Path(mix).is_file() and r1 and r2 and r3 is None and n == "2" and "2 talkers" in info["value"]
    assert "oracle" in [v for _, v in menu["choices"]]  # references given: the oracle is offered
    assert "**2 voices**" in status and out[-1]["visible"] and "metrics" in out[8 + 9]
    assert studio.pick_example("", None, "kmeans", [], 10, "PCA 2D", "assigned speaker", None, 1000, 0, 0) == \
        (gr.skip(),) * (8 + app.N_MAIN_OUTPUTS)


def test_plain_words_on_the_page(studio, audio):
    """Metrics explained where shown, voices' levels in words, friendly model and clusterer names
    in the status and the legends, no thresholds or internal names in the status line."""
    refs = (audio["s1"], audio["s2"], None)
    out = run(studio, audio["mix2"], refs=refs, clusterer="gmm_tied")
    status, v1, v2, metrics = out[0], out[1], out[2], out[8]
    assert "how many dB clearer each voice is than the mixture" in metrics and "**SAR**" in metrics
    labels = sorted([v1["label"], v2["label"]])
    assert any(lab.endswith("(the loudest)") for lab in labels) and any("dB quieter)" in lab for lab in labels)
    assert "GMM (tied full covariance)" in status and "default (DANet, BLSTM, 2 talkers)" in status
    assert studio.model_label("gru") == "gru (DANet, BGRU, 2 talkers)"
    model = studio.get_model(None)
    model.config.one_talker_cosine = -1.0
    try:
        status = run(studio, audio["mix2"], clusterer="kmeans", n="2")[0]
    finally:
        model.config.one_talker_cosine = None
    assert "came out nearly alike" in status
    for jargon in ("cosine", "pulled back", "re. ", "gmm_tied", "load+embed"):
        assert jargon not in status, jargon
    _, mismatch, table = studio.compare(audio["mix2"], *refs, None, ["kmeans", "gmm_tied"], "2", 10, "PCA 2D", None,
                                        800, 0, 0)
    names = [t.name or "" for t in mismatch.data]
    assert any(n.startswith("GMM (tied full covariance) (mean dist") for n in names), names
    assert not any("gmm_tied" in n for n in names) and "lower is better" in table
