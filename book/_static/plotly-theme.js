/* Deep Learning Theory, Executed: plotly figures follow the page's light/dark mode.
 *
 * The theme (pydata-sphinx-theme) sets <html data-theme="light|dark">. On load and on every switch, each plotly
 * figure is relaid out with the dark variant of the house template (dark panel, light ink, dim grid) or restored
 * to the light values it was drawn with. Traces keep their colours (the Okabe–Ito palette reads on both).
 */
(function () {
  "use strict";
  var DARK = {bg: "#14181f", plot: "#14181f", ink: "#d6dae0", grid: "#3a414c", line: "#8b939e", legend: "rgba(20,24,31,0.7)"};

  function axisKeys(layout) {
    return Object.keys(layout).filter(function (k) { return /^(x|y)axis\d*$/.test(k); });
  }
  function sceneKeys(layout) {
    return Object.keys(layout).filter(function (k) { return /^scene\d*$/.test(k); });
  }
  function get(o, path) {
    return path.split(".").reduce(function (a, k) { return a == null ? undefined : a[k]; }, o);
  }
  function paths(gd) {
    var L = gd.layout, out = ["paper_bgcolor", "plot_bgcolor", "font.color", "legend.bgcolor", "legend.font.color",
                              "title.font.color"];
    axisKeys(L).forEach(function (a) { out.push(a + ".gridcolor", a + ".linecolor", a + ".color", a + ".zerolinecolor"); });
    sceneKeys(L).forEach(function (s) {
      ["xaxis", "yaxis", "zaxis"].forEach(function (a) {
        out.push(s + "." + a + ".gridcolor", s + "." + a + ".color", s + "." + a + ".backgroundcolor");
      });
    });
    (L.annotations || []).forEach(function (_, i) { out.push("annotations[" + i + "].font.color"); });
    return out;
  }
  function darkValue(path) {
    if (/bgcolor$/.test(path) && /legend/.test(path)) return DARK.legend;
    if (path === "paper_bgcolor") return DARK.bg;
    if (path === "plot_bgcolor" || /backgroundcolor$/.test(path)) return DARK.plot;
    if (/gridcolor$|zerolinecolor$/.test(path)) return DARK.grid;
    if (/linecolor$/.test(path)) return DARK.line;
    return DARK.ink;
  }
  function apply(gd, dark) {
    if (!window.Plotly || !gd.layout) return;
    if (!gd._dltLight) {                       // remember the light values once, to restore them exactly
      gd._dltLight = {};
      paths(gd).forEach(function (p) {
        var v = get(gd.layout, p.replace(/\[(\d+)\]/g, ".$1"));
        gd._dltLight[p] = v === undefined ? null : v;
      });
    }
    var upd = {};
    Object.keys(gd._dltLight).forEach(function (p) { upd[p] = dark ? darkValue(p) : gd._dltLight[p]; });
    window.Plotly.relayout(gd, upd);
  }
  function isDark() { return document.documentElement.getAttribute("data-theme") === "dark"; }
  function applyAll() {
    var dark = isDark();
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      if (dark || gd._dltLight) apply(gd, dark);
    });
  }
  window.dltPlotlyTheme = {apply: applyAll, isDark: isDark};
  document.addEventListener("DOMContentLoaded", function () {
    // figures are drawn by inline scripts; give them a moment, then follow the theme and its switches
    window.setTimeout(applyAll, 50);
    new MutationObserver(applyAll).observe(document.documentElement, {attributes: true, attributeFilter: ["data-theme"]});
  });
})();
