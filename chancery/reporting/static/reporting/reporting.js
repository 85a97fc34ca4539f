/* Dashboard charts: every <canvas data-chart="..."> is drawn by Chart.js (vendored) from the
   JSON in its data-chart attribute (not a <script> block: HTMX drops those from swapped
   content), after a full page load and after every HTMX swap. No inline script or style:
   the CSP forbids them. */
(function () {
  "use strict";

  // Chart.js (~70 kB compressed) is fetched only by pages that draw a chart, not by every page.
  var chartjsUrl = document.currentScript && document.currentScript.dataset.chartjs;
  var loading = null;

  function withChartjs(callback) {
    if (typeof window.Chart !== "undefined") { callback(); return; }
    if (!chartjsUrl) { return; }
    if (!loading) {
      loading = [];
      var script = document.createElement("script");
      script.src = chartjsUrl;
      script.onload = function () { loading.forEach(function (fn) { fn(); }); };
      document.head.appendChild(script);
    }
    loading.push(callback);
  }

  function datasetsOf(spec) {
    return spec.datasets.map(function (d) {
      var colour = d.colours || d.colour || "#1f4e79";
      return { label: d.label, data: d.data, backgroundColor: colour, borderColor: colour };
    });
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") { return; }
    var spec;
    try { spec = JSON.parse(canvas.dataset.chart); } catch (error) { return; }
    var rtl = document.documentElement.dir === "rtl";
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      locale: document.documentElement.lang || "fr",
      plugins: { legend: { display: spec.type === "doughnut" || spec.datasets.length > 1, rtl: rtl } }
    };
    if (spec.type !== "doughnut") {
      options.indexAxis = spec.horizontal ? "y" : "x";
      options.scales = {
        x: { stacked: !!spec.stacked, reverse: rtl && !spec.horizontal, beginAtZero: true },
        y: { stacked: !!spec.stacked, beginAtZero: true, position: rtl && spec.horizontal ? "right" : "left" }
      };
    }
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, { type: spec.type, data: { labels: spec.labels, datasets: datasetsOf(spec) }, options: options });
  }

  function drawAll(root) {
    var canvases = (root || document).querySelectorAll("canvas[data-chart]");
    if (!canvases.length) { return; }
    withChartjs(function () { canvases.forEach(draw); });
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
