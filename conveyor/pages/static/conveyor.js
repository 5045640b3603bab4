// Draws every <canvas data-chart='{"type":…,"labels":[…],"datasets":[…]}'> with Chart.js;
// submits the form of a changed [data-autosubmit] field; [data-print] buttons print the page.
// (The pages' Content-Security-Policy runs no inline script, so behaviour lives here.)
(function () {
  "use strict";
  var palette = ["#2f5bea", "#c98a00", "#1f8a4c", "#c4352b", "#5b3aa8"];
  function draw(root) {
    if (!window.Chart) return;
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var spec = JSON.parse(canvas.dataset.chart);
      spec.datasets.forEach(function (ds, i) {
        ds.backgroundColor = ds.backgroundColor || palette[i % palette.length] + (ds.type === "line" ? "" : "cc");
        ds.borderColor = ds.borderColor || palette[i % palette.length];
      });
      // Few, level labels: Chart.js skips labels that would crowd instead of rotating them.
      var scales = {
        x: { ticks: { autoSkip: true, maxTicksLimit: 10, maxRotation: 0, minRotation: 0 } },
        y: { beginAtZero: true },
      };
      if (spec.datasets.some(function (ds) { return ds.yAxisID === "y1"; })) {
        scales.y1 = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } };
      }
      new window.Chart(canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets: spec.datasets },
        options: { responsive: true, maintainAspectRatio: false, animation: false, scales: scales },
      });
      canvas.dataset.drawn = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("change", function (e) {
    var field = e.target.closest && e.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.submit();
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-print]")) window.print();
  });
  document.addEventListener("htmx:afterSwap", function (e) { draw(e.target); });
})();
