#!/usr/bin/env python
"""Time the studio's handlers as a user meets them: what the status line of the app reports.

Builds the same :class:`sepviz.studio.Studio` the web app serves (no browser, no HTTP) and times, on one
mixture (default: a bundled example, looped to ``--seconds``):

* **first separate**: a new upload: audio loading, network, clustering, masks, iSTFT, metrics
  against the references and the three figures with a PCA projection;
* **re-cluster**: the same audio with the GMM (the embeddings come from the cache);
* **UMAP 2D**: the same audio and clusterer with the UMAP projection on the default 3,000 bins (after
  the numba JIT warm-up, timed on its own: it happens once per server start, in the background);
* **compare**: the Compare tab with k-means, GMM and soft k-means side by side on new audio
  (network included).

Each row is the median of ``--repeats`` rounds; every round uses slightly rescaled audio, so the
caches (keyed by content) cannot answer the first call of a kind.  Like every timing, only meaningful on an idle machine.

With ``--browser`` it times what a user waits for instead: the studio served on localhost and
driven by headless Chromium (1440 x 900; /usr/bin/chromium and chromedriver), from picking an
example in the menu to every panel drawn (the status, both voice players, and the cloud, the
spectrograms and the masks each redrawn by plotly), for clips of each ``--clip-seconds``.  Warm:
the server has warmed up and one clip was separated first; every timed pick is a new mixture
(rescaled copies), so the network runs each time.

    python scripts/benchmark_app.py --threads 1          # the app's default thread setting
    python scripts/benchmark_app.py --browser --clip-seconds 5 10
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from sepviz.threads import limit_threads  # noqa: E402


def _looped(src: Path, seconds: float, out: Path) -> Path:
    wave, sr = sf.read(str(src), dtype="float32")
    n = int(seconds * sr)
    sf.write(str(out), np.resize(wave, n) if wave.ndim == 1 else np.resize(wave, (n, wave.shape[1])), sr)
    return out


# Finds the example menu's option, starts the clock and, every 10 ms from then on (animation frames
# do not run in a headless page), checks whether every
# panel shows the new result: the status names the clip's length, both voice players are there,
# and plotly has drawn new data in the cloud, the spectrograms and the masks (a new _fullData,
# which each Plotly.react makes).  The time is the page's own clock.
_PICK_JS = """
const [name, seconds] = arguments;
const ids = ["sv-embedding", "sv-spectrograms", "sv-masks"];
const plot = (id) => document.querySelector("#" + id + " .js-plotly-plot");
const before = ids.map((id) => (plot(id) || {})._fullData);
const opt = Array.from(document.querySelectorAll("#sv-example li[role=option]"))
  .find((o) => (o.getAttribute("aria-label") || "").trim() === name);
if (!opt) return null;
window.svDone = null;
const check = () => {
  const status = (document.querySelector("#sv-status") || {}).innerText || "";
  const drawn = ids.every((id, i) => {
    const g = plot(id);
    return g && g._fullData && g._fullData !== before[i] && g.querySelector(".main-svg");
  });
  if (status.includes("from " + seconds + " s of audio") && drawn && document.querySelector("#sv-voice1 audio")
      && document.querySelector("#sv-voice2 audio")) {
    window.svDone = performance.now() - window.svPicked;
    return;
  }
  setTimeout(check, 10);
};
window.svPicked = performance.now();  // the click follows at once (selenium's: a script's click is ignored)
setTimeout(check, 10);
return opt;
"""


def browser_benchmark(args) -> int:
    """Serve the studio, pick examples in headless Chromium, print the seconds to every panel drawn."""
    import socket

    from sepviz.examples import Example
    from sepviz.studio import Studio, build_demo, launch_kwargs
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    tmp = Path(tempfile.mkdtemp(prefix="sepviz-bench-"))
    ex = REPO / "examples" / args.example
    wave, sr = sf.read(str(ex / "mix.wav"), dtype="float32")
    sources = sorted(ex.glob("s[0-9].wav"))
    examples = {}

    def make(name: str, seconds: float, scale: float) -> str:
        d = tmp / name
        d.mkdir()
        _looped(ex / "mix.wav", seconds, d / "mix.wav")
        w, r = sf.read(str(d / "mix.wav"), dtype="float32")
        sf.write(str(d / "mix.wav"), w * scale, r)  # a new mixture for the caches (keyed by content)
        for s in sources:
            _looped(s, seconds, d / s.name)
        examples[name] = Example(name, d / "mix.wav", [d / s.name for s in sources], "bundled",
                                 {"source": f"{args.example}, {seconds:g} s"})
        return name

    order = [make("warm_up", args.clip_seconds[0], 0.99)]
    for i in range(args.repeats):
        for secs in args.clip_seconds:
            order.append(make(f"clip_{secs:g}s_{i + 1}", secs, 1.0 - 0.005 * (i + 2)))
    studio = Studio(args.checkpoints, include_fsdd=False, examples=examples, work_dir=tmp / "work")
    if not studio.models:
        print(studio.no_models_message(), file=sys.stderr)
        return 2
    studio.warm_up(umap=False)
    demo = build_demo(studio)
    demo.queue(default_concurrency_limit=2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs(studio))
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,900",
              f"--user-data-dir={tmp / 'chrome'}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    css = lambda sel: driver.find_elements(By.CSS_SELECTOR, sel)  # noqa: E731
    times: dict[float, list[float]] = {}
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 40, poll_frequency=0.02)
        wait.until(lambda _: css("#sv-example input"))
        for name in order:
            seconds = float(examples[name].meta["source"].rsplit(", ", 1)[1][:-2])
            css("#sv-example input")[0].click()
            wait.until(lambda _: css("#sv-example li[role=option]"))
            option = driver.execute_script(_PICK_JS, name, f"{seconds:.1f}")
            if option is None:
                raise RuntimeError(f"the example menu has no {name!r}")
            option.click()
            took = wait.until(lambda _: driver.execute_script("return window.svDone"))
            if name != "warm_up":
                times.setdefault(seconds, []).append(took / 1000)
            # clear the mixture: the page is back at its start, and the menu takes the next pick as a new one
            next(b for b in css("#sv-audio button") if (b.get_attribute("aria-label") or "").lower() == "clear").click()
            wait.until(lambda _: not css("#sv-results"))
    finally:
        driver.quit()
        demo.close()
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"browser (headless Chromium 1440 x 900), model `{studio.default_model}`, {args.example} looped, "
          f"{args.threads} thread(s), load average {load:.2f}; example picked -> every panel drawn, warm, "
          f"median of {args.repeats} (fastest, slowest)")
    print("| clip | seconds |\n|---|---|")
    for secs, v in sorted(times.items()):
        print(f"| {secs:g} s | {statistics.median(v):.2f} ({min(v):.2f}, {max(v):.2f}) |")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--example", default="synth_2talker_1", help="folder under examples/ (mix.wav, s1.wav, s2.wav)")
    ap.add_argument("--seconds", type=float, default=10.0, help="loop the mixture (and references) to this length")
    ap.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch/BLAS threads, as app.py --threads (default 1)")
    ap.add_argument("--browser", action="store_true",
                    help="time the page in headless Chromium: example picked -> every panel drawn")
    ap.add_argument("--clip-seconds", type=float, nargs="+", default=[5.0, 10.0],
                    help="with --browser: the clip lengths to time (default 5 10)")
    args = ap.parse_args(argv)

    import torch

    if args.threads > 0:
        limit_threads(args.threads)
    if args.browser:
        return browser_benchmark(args)
    from sepviz.studio import Studio

    tmp = Path(tempfile.mkdtemp(prefix="sepviz-bench-"))
    studio = Studio(args.checkpoints, include_fsdd=False, read_dirs=[tmp])  # it reads its looped copies
    if not studio.models:
        shutil.rmtree(tmp, ignore_errors=True)
        print(studio.no_models_message(), file=sys.stderr)
        return 2
    model = studio.default_model
    ex = REPO / "examples" / args.example
    try:
        refs = [str(_looped(p, args.seconds, tmp / p.name)) for p in sorted(ex.glob("s[0-9].wav"))]
        refs += [None] * (3 - len(refs))
        mix = _looped(ex / "mix.wav", args.seconds, tmp / "mix.wav")
        n = str(sum(r is not None for r in refs))

        def run(audio, clusterer="kmeans", projection="PCA 2D"):
            return studio.separate(str(audio), *refs, model, clusterer, n, 10, projection, "assigned speaker",
                                   None, None, None, None, progress=None)

        wave, sr = sf.read(str(mix), dtype="float32")
        uploads = iter(range(10_000))

        def fresh() -> Path:  # the caches are keyed by content: rescale the samples for a new "upload"
            i = next(uploads)
            path = tmp / f"upload{i}.wav"
            sf.write(str(path), wave * (1.0 - 0.005 * (i + 1)), sr)
            return path

        run(fresh())  # first forward pass of the process (allocator, kernels) is not what users wait for
        t = time.perf_counter()
        studio.warm_up(umap=True)
        warm = time.perf_counter() - t
        times: dict[str, list[float]] = {}

        def timed(name, fn):
            t = time.perf_counter()
            fn()
            times.setdefault(name, []).append(time.perf_counter() - t)

        for _ in range(args.repeats):
            audio = fresh()
            timed("first separate (PCA 2D, k-means, metrics)", lambda: run(audio))
            timed("re-cluster with GMM (cached embeddings)", lambda: run(audio, "gmm"))
            timed("switch to UMAP 2D (cached clustering)", lambda: run(audio, "gmm", "UMAP 2D"))
            other = fresh()
            timed("compare k-means / GMM / soft k-means (new audio)",
                  lambda: studio.compare(str(other), *refs, model, ["kmeans", "gmm", "soft_kmeans"], n, 10,
                                         "PCA 2D", None, None, None, None, progress=None))
        rows = [(k, statistics.median(v), min(v)) for k, v in times.items()]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"app handlers, model `{model}`, {args.seconds:.0f} s mixture ({args.example}), torch {torch.__version__}, "
          f"{args.threads} thread(s), load average {load:.2f}; median of {args.repeats} (fastest)")
    print("| step | seconds |\n|---|---|")
    for name, med, best in rows:
        print(f"| {name} | {med:.2f} ({best:.2f}) |")
    print(f"| UMAP numba warm-up (once per server start, background) | {warm:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
