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
         "--disable-dev-shm-usage", "--window-size=1440,900",  # a 1440 x 900 screen: the page gets ~1440 x 760
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]  # a microphone that beeps


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
    sf.write(d / "silent.wav", np.zeros(8000, np.float32), 8000, subtype="PCM_16")
    from sepviz.examples import Example

    ex = d / "examples" / "two_tones"
    ex.mkdir(parents=True)
    parts = [0.3 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 3 * t) > 0), 0.3 * np.sin(2 * np.pi * 330 * t)]
    for name, w in (("mix.wav", parts[0] + parts[1]), ("s1.wav", parts[0]), ("s2.wav", parts[1])):
        sf.write(ex / name, w.astype(np.float32), 8000, subtype="PCM_16")
    example = Example("two_tones", ex / "mix.wav", [ex / "s1.wav", ex / "s2.wav"], "bundled", {"source": "two tones"})
    studio = app.Studio(d / "ckpt", include_fsdd=False, examples={"two_tones": example}, work_dir=d / "work")
    demo = app.build_demo(studio)
    demo.queue(default_concurrency_limit=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size="10mb", **app.launch_kwargs(studio))
    try:
        yield f"http://127.0.0.1:{port}/", d, studio
    finally:
        demo.close()


def test_upload_example_or_recording_separates_at_once_and_an_error_clears_the_results(served, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url, d, studio = served
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in FLAGS + [f"--user-data-dir={tempfile.mkdtemp(prefix='sepviz-chrome-')}"]:
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    css = lambda sel: driver.find_elements(By.CSS_SELECTOR, sel)  # noqa: E731
    status = lambda: driver.find_element(By.CSS_SELECTOR, "#sv-status").text  # noqa: E731
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 45)
        wait.until(lambda _: css("#sv-run"))
        # first screen: the button in view, model / clusterer / talkers by the input, nothing empty
        view_h = driver.execute_script("return window.innerHeight")
        for sel in ("#sv-run", "#sv-model", "#sv-clusterer", "#sv-talkers"):
            bottom = driver.execute_script(f"return document.querySelector('{sel}').getBoundingClientRect().bottom")
            assert bottom <= view_h, (sel, bottom, view_h)
        assert not css("#sv-results") and not css("#sv-zip") and not css(".js-plotly-plot #sv-embedding")
        assert not any(el.is_displayed() for el in css("#sv-advanced input"))  # folded away
        # an upload separates by itself: no click
        css("#sv-audio input[type=file]")[0].send_keys(str(d / "mixture.wav"))
        wait.until(lambda _: "2 voices" in status())
        wait.until(lambda _: css("#sv-embedding .js-plotly-plot") and css("#sv-voice1 audio") and css("#sv-voice2 audio"))
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
        assert not css("#sv-voice3 audio")  # third voice hidden
        for i in (1, 2):  # a player and a download per voice
            links = [a.get_attribute("href") or "" for a in css(f"#sv-voice{i} a")]
            assert any(h.endswith(f"voice{i}.wav") for h in links), links
        css("#sv-zip")[0].click()  # and one zip of them all
        wait.until(lambda _: list(downloads.glob("*.zip")) and not list(downloads.glob("*.crdownload")))
        import zipfile

        with zipfile.ZipFile(next(downloads.glob("*.zip"))) as zf:
            assert zf.namelist() == ["voice1.wav", "voice2.wav"]
        # a selection in the cloud (the event plotly emits after a lasso or box) is heard alone and lit on the
        # mixture's spectrogram
        js_data = "return document.querySelector('#sv-%s .js-plotly-plot').data.map(t => t.name)"
        assert "selected bins" not in driver.execute_script(js_data % "spectrograms")
        driver.execute_script("""
            const gd = document.querySelector('#sv-embedding .js-plotly-plot');
            const c = gd._fullData.findIndex(t => t.name === 'voice 1');  // decoded arrays (gd.data: base64)
            const xs = Array.from(gd._fullData[c].x), ys = Array.from(gd._fullData[c].y);
            gd.emit('plotly_selected', {points: xs.map((x, j) => ({curveNumber: c, pointNumber: j, x: x, y: ys[j]})),
                                        range: {x: [Math.min(...xs), Math.max(...xs)], y: [Math.min(...ys), Math.max(...ys)]}});
        """)
        wait.until(lambda _: css("#sv-sel-audio audio") and "bins selected" in css("#sv-sel-note")[0].text)
        wait.until(lambda _: "selected bins" in driver.execute_script(js_data % "spectrograms"))
        # the reverse, with the mouse: a box dragged on the mixture's spectrogram rings its bins in the cloud
        spec = driver.find_element(By.CSS_SELECTOR, "#sv-spectrograms .js-plotly-plot .nsewdrag")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", spec)
        w, h = spec.size["width"], spec.size["height"]
        ActionChains(driver).move_to_element_with_offset(spec, -w // 4, -h // 4).click_and_hold() \
            .move_by_offset(w // 3, h // 3).move_by_offset(2, 2).release().perform()
        wait.until(lambda _: "selected bins" in driver.execute_script(js_data % "embedding"))
        assert "rectangle" in css("#sv-sel-note")[0].text
        # moving an attractor changes its voice (no network run: the cached embeddings)
        voice1 = lambda: [a.get_attribute("href") for a in css("#sv-voice1 a") if "voice1.wav" in (a.get_attribute("href") or "")]  # noqa: E731
        before = voice1()
        runs = studio.network_runs
        box = css("#sv-move-x input[type=number]")[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
        box.clear()
        box.send_keys("2.5", Keys.TAB)
        wait.until(lambda _: "attractor 1 moved +2.5 along PC1" in status())
        wait.until(lambda _: voice1() and voice1() != before)  # a new file: Gradio names its copies by content
        assert studio.network_runs == runs
        css("#sv-move-reset")[0].click()
        wait.until(lambda _: "moved" not in status() and "2 voices" in status())
        # the export: the shown bins' embeddings for the Embedding Projector, downloaded
        css("#sv-export")[0].click()
        links = wait.until(lambda _: [a for a in css("#sv-export-files a")
                                      if (a.get_attribute("href") or "").endswith("embeddings_projector.zip")])
        links[0].click()
        wait.until(lambda _: list(downloads.glob("embeddings_projector*.zip"))
                   and not list(downloads.glob("*.crdownload")))
        with zipfile.ZipFile(next(downloads.glob("embeddings_projector*.zip"))) as zf:
            assert sorted(zf.namelist()) == ["metadata.tsv", "vectors.tsv"]
            assert zf.read("metadata.tsv").decode().startswith("time_s\tfrequency_hz\tpower_db\tassigned_voice")
        # attractor tracking: the paths are drawn; switching it off (Advanced) re-separates without them
        plot = driver.find_element(By.CSS_SELECTOR, "#sv-embedding .js-plotly-plot")  # redrawn since
        assert "attractor paths" in plot.text and "attractors follow the talkers" in status()
        css("#sv-advanced button, #sv-advanced .label-wrap")[0].click()
        off = wait.until(lambda _: [el for el in css("#sv-track label") if "one attractor per talker" in el.text])
        off[0].click()  # (the accordion opens in its own time: the labels have no text until shown)
        wait.until(lambda _: "attractors follow the talkers" not in status() and "2 voices" in status())
        wait.until(lambda _: "attractor paths" not in driver.find_element(By.CSS_SELECTOR,
                                                                          "#sv-embedding .js-plotly-plot").text)
        # a bad input: the old results go, the status and one notice say why, no panel says "Error"
        for sel, value in (("#sv-from input", "2"), ("#sv-to input", "1")):
            box = css(sel)[0]
            box.clear()
            box.send_keys(value)
        box.send_keys(Keys.ENTER)
        wait.until(lambda _: "must be after its start" in status())
        time.sleep(0.5)  # a second notice or a late panel would show by now
        assert not css("#sv-results") and not css("#sv-voice1 audio") and not css("#sv-embedding")
        notes = css(".toast-body")
        assert len(notes) == 1 and "must be after its start" in notes[0].text
        assert not css("[data-testid=status-tracker] span.error")
        # a silent upload after clearing the mixture: said once, nothing separated
        for sel, value in (("#sv-from input", "0"), ("#sv-to input", "0")):
            box = css(sel)[0]
            box.clear()
            box.send_keys(value)
        clear = [b for b in css("#sv-audio button") if (b.get_attribute("aria-label") or "").lower() == "clear"]
        assert clear, [b.get_attribute("aria-label") for b in css("#sv-audio button")]
        clear[0].click()
        wait.until(lambda _: css("#sv-audio input[type=file]"))
        css("#sv-audio input[type=file]")[0].send_keys(str(d / "silent.wav"))
        wait.until(lambda _: "silent" in status())
        assert not css("#sv-results") and not css("[data-testid=status-tracker] span.error")
        # an example separates at once too, with its references: the voices are scored
        css("#sv-example input")[0].click()
        next(o for o in WebDriverWait(driver, 20).until(lambda _: css("#sv-example li[role=option]"))
             if (o.get_attribute("aria-label") or "").strip() == "two_tones").click()
        wait.until(lambda _: "2 voices" in status() and css("#sv-voice1 audio"))
        wait.until(lambda _: "SI-SNRi" in driver.find_element(By.CSS_SELECTOR, "#sv-results").text)
        # and so does a recording, once it stops (clearing the mixture first puts the page back to the start)
        driver.execute_script("window.scrollTo(0, 0)")
        next(b for b in css("#sv-audio button") if (b.get_attribute("aria-label") or "").lower() == "clear").click()
        wait.until(lambda _: not css("#sv-results") and "2 voices" not in status())
        next(b for b in css("#sv-audio button") if b.get_attribute("aria-label") == "Record audio").click()
        wait.until(lambda _: [b for b in css("#sv-audio button") if b.text.strip() == "Record"])[0].click()
        time.sleep(1.5)
        wait.until(lambda _: [b for b in css("#sv-audio button") if b.text.strip() == "Stop"])[0].click()
        wait.until(lambda _: "2 voices" in status() and css("#sv-voice1 audio"))
    finally:
        driver.quit()
