() => {
  const send = (payload) => {
    window.svSelection = JSON.stringify(payload);
    const go = document.getElementById("sv-sel-go");
    if (go) go.click();
  };
  const binOf = (gd, p) => {
    let cd = p.customdata;
    if (cd == null || typeof cd === "number") {
      const tr = (gd._fullData || gd.data)[p.curveNumber];  // gd.data may hold the arrays still base64-coded
      if (!tr || tr.customdata == null) return null;
      cd = tr.customdata[p.pointNumber];
      if (typeof cd === "number") {
        // a flat array: 4 columns a point (STFT), 5 for a learned front-end (its filter last); the bin is column 3
        const n = tr.x ? tr.x.length : 0;
        const w = n ? Math.round(tr.customdata.length / n) : 4;
        cd = [0, 0, 0, tr.customdata[w * p.pointNumber + 3]];
      }
    }
    return cd != null && cd.length >= 4 ? Math.round(cd[3]) : null;
  };
  const fromCloud = (gd, ev) => {
    if (!ev || !ev.points) return;
    const bins = ev.points.map((p) => binOf(gd, p)).filter((b) => b != null);
    const lp = ev.lassoPoints;
    const lasso = lp && lp.x ? Array.from(lp.x, (x, i) => [x, lp.y[i]]) : null;
    const box = ev.range && ev.range.x && ev.range.y ? [ev.range.x, ev.range.y] : null;
    send({source: "cloud", bins: bins, lasso: lasso, box: box});
  };
  const fromSpectrogram = (gd, ev) => {
    if (!ev) return;
    let box = null;
    if (ev.range) {
      const keys = Object.keys(ev.range);
      const kx = keys.find((k) => k[0] === "x"), ky = keys.find((k) => k[0] === "y");
      if (kx && ky) box = [ev.range[kx], ev.range[ky]];
    }
    if (!box && ev.points && ev.points.length) {
      const xs = ev.points.map((p) => p.x), ys = ev.points.map((p) => p.y);
      box = [[Math.min(...xs), Math.max(...xs)], [Math.min(...ys), Math.max(...ys)]];
    }
    if (box) send({source: "spectrogram", box: box});
  };
  const hook = () => {
    for (const [id, fn] of [["sv-embedding", fromCloud], ["sv-spectrograms", fromSpectrogram]]) {
      const gd = document.querySelector("#" + id + " .js-plotly-plot");
      if (!gd || typeof gd.on !== "function" || gd.svHooked === gd._ev) continue;
      gd.svHooked = gd._ev;
      gd.on("plotly_selected", (ev) => fn(gd, ev));
    }
  };
  setInterval(hook, 300);
}
