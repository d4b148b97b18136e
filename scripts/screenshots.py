#!/usr/bin/env python
"""Regenerate docs/screenshots/*.png: the first screen and the Separate, Compare and Teaching views.

    python scripts/screenshots.py [--checkpoints checkpoints] [--example NAME] [--out docs/screenshots]

Starts ``app.py`` on a free localhost port, drives the system Chromium headless through
selenium (/usr/bin/chromium + /usr/bin/chromedriver, works offline), picks an example, runs the
separation (GMM, so the ellipses show), the comparison and the attractor atlas, and saves one
full-page PNG per view.  With no checkpoint in the folder it makes a tiny random one in /tmp (the
pictures then show an untrained model: rerun with the real checkpoints).
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROME_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_checkpoint_dir() -> Path:
    """A folder with one small random checkpoint (for development screenshots / tests)."""
    sys.path.insert(0, str(REPO))
    import torch

    from sepviz.checkpoint import build_danet, save_checkpoint
    from sepviz.danet import DANetConfig

    d = Path(tempfile.mkdtemp(prefix="sepviz-ckpt-"))
    torch.manual_seed(0)
    m = build_danet(DANetConfig(model="blstm", model_kwargs=dict(hidden=32, layers=1), n_anchors=4))
    m.fixed_attractors.normal_()
    save_checkpoint(d / "default.pt", m, training={"note": "random weights, for screenshots only"})
    return d


def start_app(checkpoints: Path, port: int, *extra: str) -> subprocess.Popen:
    import urllib.request

    log = open(Path(tempfile.gettempdir()) / f"sepviz-app-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--checkpoints", str(checkpoints),
                             "--port", str(port), "--no-warmup", *extra], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}; see {log.name}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("app did not start within 90 s")


def make_driver(width: int = 1500, height: int = 1400):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in CHROME_FLAGS + [f"--user-data-dir={tempfile.mkdtemp(prefix='sepviz-chrome-')}",
                             f"--window-size={width},{height}"]:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def wait(driver, css: str, timeout: float = 90, count: int = 1):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        lambda d: (els := d.find_elements(By.CSS_SELECTOR, css)) and len(els) >= count and els)


def wait_text(driver, css: str, text: str, timeout: float = 90):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, css)))


def pick_dropdown(driver, elem_id: str, option_text: str) -> None:
    """Open a Gradio dropdown and click the option whose text is ``option_text``."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input")
    box.click()
    opts = wait(driver, f"#{elem_id} li[role=option]", 20)
    for o in opts:
        if (o.get_attribute("aria-label") or "").strip() == option_text:
            o.click()
            return
    raise RuntimeError(f"no option {option_text!r} in {elem_id}: {[o.get_attribute('aria-label') for o in opts]}")


def click_tab(driver, name: str) -> None:
    from selenium.webdriver.common.by import By

    for b in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]"):
        if b.text.strip() == name:
            b.click()
            return
    raise RuntimeError(f"no tab {name!r}")


def full_page(driver, path: Path, width: int = 1500) -> None:
    """Resize the window to the page height, settle plotly, and save a PNG."""
    js = "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
    for _ in range(4):  # resizing can reflow the page: repeat until the height is stable
        h = int(driver.execute_script(js))
        driver.set_window_size(width, min(h + 150, 6000))
        time.sleep(1.0)
        if abs(int(driver.execute_script(js)) - h) < 5:
            break
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))


def capture(url: str, out: Path, example: str, log=print) -> list[Path]:
    from selenium.webdriver.common.by import By

    d = make_driver()
    shots = []
    try:
        d.get(url)
        wait(d, "#sv-run", 60)
        d.set_window_size(1440, 900)  # the first screen, as a newcomer sees it
        time.sleep(1.0)
        shots.append(out / "first_screen.png")
        out.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(shots[-1]))
        log(f"wrote {shots[-1]}")
        d.set_window_size(1500, 1400)
        pick_dropdown(d, "sv-example", example)
        wait_text(d, ".sv-status", "voices", 120)
        # soft k-means, the default clusterer (sepviz.clusterers.DEFAULT_CLUSTERER); the GMM and
        # its ellipses are on the Compare shot
        d.find_element(By.CSS_SELECTOR, "#sv-advanced button, #sv-advanced .label-wrap").click()  # folded away
        time.sleep(0.5)
        d.find_element(By.XPATH, "//label[.//span[text()='true speaker']]").click()
        time.sleep(0.5)
        wait_text(d, ".sv-status", "soft k-means", 60)
        wait_text(d, ".sv-status", "output was reused", 60)  # the re-plot with the true speakers' colours
        wait(d, "#sv-embedding .js-plotly-plot", 60)
        time.sleep(1)
        # a selection in the cloud: a box around the left third of the dots, as plotly reports a box drawn there
        d.execute_script("""
            const gd = document.querySelector('#sv-embedding .js-plotly-plot');
            const xs = [].concat(...gd._fullData.filter(t => t.mode === 'markers').map(t => Array.from(t.x)));
            const ys = [].concat(...gd._fullData.filter(t => t.mode === 'markers').map(t => Array.from(t.y)));
            const lo = Math.min(...xs), cut = lo + 0.3 * (Math.max(...xs) - lo);
            const points = [];
            gd._fullData.forEach((t, c) => { if (t.mode === 'markers') Array.from(t.x).forEach((x, j) => {
                if (x <= cut) points.push({curveNumber: c, pointNumber: j, x: x, y: t.y[j]}); }); });
            gd.emit('plotly_selected', {points: points, range: {x: [lo, cut], y: [Math.min(...ys), Math.max(...ys)]}});
        """)
        wait(d, "#sv-sel-audio audio", 60)
        time.sleep(3)
        shots.append(out / "separate.png")
        full_page(d, shots[-1])
        log(f"wrote {shots[-1]}")

        d.set_window_size(1500, 1400)
        click_tab(d, "Compare")
        d.find_element(By.CSS_SELECTOR, "#sv-compare").click()
        wait(d, "#sv-compare-grid .js-plotly-plot", 180)
        wait(d, "#sv-mismatch .js-plotly-plot", 60)
        time.sleep(2)
        shots.append(out / "compare.png")
        full_page(d, shots[-1])
        log(f"wrote {shots[-1]}")

        d.set_window_size(1500, 1400)
        click_tab(d, "Teaching")
        d.find_element(By.CSS_SELECTOR, "#sv-atlas-btn").click()
        wait(d, "#sv-atlas .js-plotly-plot", 300)
        time.sleep(2)
        shots.append(out / "teaching.png")
        full_page(d, shots[-1])
        log(f"wrote {shots[-1]}")
    finally:
        d.quit()
    return shots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    ap.add_argument("--example", default=None, help="example to show (default: the first two-talker one)")
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    ap.add_argument("--url", default=None, help="use an app that is already running instead of starting one")
    args = ap.parse_args(argv)
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(tool):
            sys.exit(f"{tool} is missing (apt-get install chromium chromium-driver)")
    sys.path.insert(0, str(REPO))
    from sepviz.examples import list_examples

    ex = list_examples()
    example = args.example or next((n for n, e in ex.items() if e.n_speakers == 2), None)
    if example is None:
        sys.exit("no examples: run scripts/make_examples.py first")
    ckpt = Path(args.checkpoints)
    if args.url is None and not any(ckpt.glob("*.pt")):
        ckpt = tiny_checkpoint_dir()
        print(f"no checkpoint in {args.checkpoints}: using a tiny random one ({ckpt})")
    proc = None
    url = args.url
    if url is None:
        port = free_port()
        proc = start_app(ckpt, port)
        url = f"http://127.0.0.1:{port}/"
    try:
        capture(url, Path(args.out), example)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
