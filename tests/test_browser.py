"""Drive the studio in headless Chromium: upload a mixture, separate, see voices and the cloud.

Needs the Debian ``chromium`` and ``chromedriver`` (/usr/bin) and the selenium package; works
offline.  With ``SEPVIZ_SCREENSHOTS=1`` the screenshot is also saved to docs/screenshots/.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"),
    pytest.mark.skipif(importlib.util.find_spec("selenium") is None, reason="selenium is not installed"),
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),  # inside gradio's queue (pandas 3)
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.usefixtures("one_thread"),
]

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,2200"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    sys.path.insert(0, str(REPO))
    import torch

    import app
    from sepviz.checkpoint import build_danet, save_checkpoint
    from sepviz.danet import DANetConfig

    d = tmp_path_factory.mktemp("browser")
    torch.manual_seed(0)
    m = build_danet(DANetConfig(model="blstm", model_kwargs=dict(hidden=32, layers=1), n_anchors=4,
                                attractor_tracking={"2": {"frames": 8, "strength": 0.5}}))
    save_checkpoint(d / "ckpt" / "default.pt", m)
    t = np.arange(3 * 8000) / 8000
    mix = 0.3 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 3 * t) > 0) + 0.3 * np.sin(2 * np.pi * 330 * t)
    sf.write(d / "mixture.wav", mix.astype(np.float32), 8000, subtype="PCM_16")
    studio = app.Studio(d / "ckpt", include_fsdd=False, examples={}, work_dir=d / "work")
    demo = app.build_demo(studio)
    demo.queue(default_concurrency_limit=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size="10mb", **app.launch_kwargs(studio))
    try:
        yield f"http://127.0.0.1:{port}/", d / "mixture.wav"
    finally:
        demo.close()


def test_upload_separate_and_see_voices_and_cloud(served, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, mixture = served
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in FLAGS + [f"--user-data-dir={tempfile.mkdtemp(prefix='sepviz-chrome-')}"]:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    t0 = time.time()
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 45)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sv-run"))
        driver.find_element(By.CSS_SELECTOR, "#sv-audio input[type=file]").send_keys(str(mixture))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sv-audio audio, #sv-audio [data-testid=waveform]"))
        driver.find_element(By.CSS_SELECTOR, "#sv-run").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sv-embedding .js-plotly-plot"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sv-voice1 audio")
                   and d.find_elements(By.CSS_SELECTOR, "#sv-voice2 audio"))
        wait.until(lambda d: "2 voices" in d.find_element(By.CSS_SELECTOR, ".sv-status").text)
        time.sleep(1.0)  # let plotly finish drawing for the screenshot
        shot = tmp_path / "upload_separate.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("SEPVIZ_SCREENSHOTS") == "1":
            out = REPO / "docs" / "screenshots"
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, out / "upload_separate.png")
        # the cloud really is drawn: plotly rendered points (WebGL canvas) and the attractor legend
        plot = driver.find_element(By.CSS_SELECTOR, "#sv-embedding .js-plotly-plot")
        assert plot.find_elements(By.CSS_SELECTOR, "canvas, .scatterlayer")
        assert "attractors" in plot.text
        assert not driver.find_elements(By.CSS_SELECTOR, "#sv-voice3 audio")  # third voice hidden
        links = [a.get_attribute("href") or "" for a in driver.find_elements(By.CSS_SELECTOR, "#sv-voice1 a")]
        assert any(h.endswith("voice1.wav") for h in links), links  # the download link of voice 1
        # attractor tracking: the paths are drawn; switching it off re-separates without them
        assert "attractor paths" in plot.text
        assert "attractors follow the talkers" in driver.find_element(By.CSS_SELECTOR, ".sv-status").text
        off = next(el for el in driver.find_elements(By.CSS_SELECTOR, "#sv-track label")
                   if "one attractor per talker" in el.text)
        off.click()
        wait.until(lambda d: "attractors follow the talkers" not in d.find_element(By.CSS_SELECTOR, ".sv-status").text
                   and "2 voices" in d.find_element(By.CSS_SELECTOR, ".sv-status").text)
        wait.until(lambda d: "attractor paths" not in d.find_element(By.CSS_SELECTOR, "#sv-embedding .js-plotly-plot").text)
    finally:
        driver.quit()
    assert time.time() - t0 < 60
