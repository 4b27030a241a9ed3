/* global Chart, document, window */
/**
 * Runs inside the audit report (a browser, no network): draws the incident's timeline with the
 * Chart.js inlined before it, from the chart model the CLI embedded as JSON (#chart-model).
 * Tier over time as a step line; below it three lanes: deadlines (met, missed, met but
 * recorded late, open), decisions, and facts recorded late (a dashed bar from when the fact
 * occurred to when it became known). For printing, the canvas is copied into an image.
 */
(function drawAuditTimeline() {
  'use strict';
  var model = JSON.parse(document.getElementById('chart-model').textContent);
  var LANE = { deadlines: -1, decisions: -2, late: -3 };
  var LANE_NAMES = { '-1': 'deadlines', '-2': 'decisions', '-3': 'recorded late' };
  var TIER_NAMES = ['0 reported', '1 confirmed', '2 persistent', '3 large-scale'];
  var COLOURS = {
    tier: '#1f4e79',
    met: '#2e7d32',
    missed: '#c62828',
    'met-late': '#ef6c00',
    open: '#757575',
    closed: '#9e9e9e',
    decision: '#6a1b9a',
    late: '#ef6c00',
  };
  var STYLES = {
    met: 'circle',
    missed: 'crossRot',
    'met-late': 'rectRot',
    open: 'rect',
    closed: 'rect',
  };
  var STATUS_NAMES = {
    met: 'deadline met',
    missed: 'deadline missed',
    'met-late': 'met, recorded late',
    open: 'deadline open',
    closed: 'deadline closed',
  };

  function utc(ms) {
    return new Date(ms).toISOString().slice(5, 16).replace('T', ' ');
  }

  var datasets = [
    {
      label: 'tier',
      data: model.tiers.map(function (p) {
        return { x: p.x, y: p.tier };
      }),
      stepped: 'before',
      borderColor: COLOURS.tier,
      backgroundColor: 'rgba(31, 78, 121, 0.12)',
      // Shaded down to the line between the tiers and the lanes below them.
      fill: { value: -0.5 },
      borderWidth: 3,
      pointRadius: 4,
      pointBackgroundColor: COLOURS.tier,
    },
  ];
  Object.keys(STATUS_NAMES).forEach(function (status) {
    var points = model.deadlines.filter(function (d) {
      return d.status === status;
    });
    if (points.length === 0) return;
    datasets.push({
      type: 'scatter',
      label: STATUS_NAMES[status],
      data: points.map(function (d) {
        return { x: d.x, y: LANE.deadlines, label: d.label };
      }),
      pointStyle: STYLES[status],
      pointRadius: 9,
      pointBorderWidth: 3,
      borderColor: COLOURS[status],
      backgroundColor: status === 'missed' ? COLOURS[status] : 'rgba(255,255,255,0.9)',
    });
  });
  if (model.decisions.length > 0) {
    datasets.push({
      type: 'scatter',
      label: 'decision',
      data: model.decisions.map(function (d) {
        return { x: d.x, y: LANE.decisions, label: d.label };
      }),
      pointStyle: 'triangle',
      pointRadius: 9,
      borderColor: COLOURS.decision,
      backgroundColor: COLOURS.decision,
    });
  }
  if (model.late.length > 0) {
    // One dataset for every late fact: occurred → recorded, a gap (null) between two facts.
    var bars = [];
    model.late.forEach(function (fact) {
      bars.push({ x: fact.occurred, y: LANE.late, label: fact.label });
      bars.push({ x: fact.recorded, y: LANE.late });
      bars.push({ x: fact.recorded, y: null });
    });
    datasets.push({
      label: 'fact recorded late (occurred → recorded)',
      data: bars,
      borderColor: COLOURS.late,
      backgroundColor: COLOURS.late,
      borderDash: [6, 4],
      borderWidth: 3,
      spanGaps: false,
      pointRadius: 7,
      pointStyle: function (context) {
        return context.dataIndex % 3 === 0 ? 'circle' : 'triangle';
      },
      pointRotation: function (context) {
        return context.dataIndex % 3 === 0 ? 0 : 90;
      },
    });
  }

  /** Names each marker beside it, so the chart reads without hovering (and on paper). */
  var markerLabels = {
    id: 'markerLabels',
    beforeDatasetsDraw: function (chart) {
      // The line between the tier scale and the lanes of deadlines, decisions and late facts.
      var ctx = chart.ctx;
      var y = chart.scales.y.getPixelForValue(-0.5);
      ctx.save();
      ctx.strokeStyle = '#8a939e';
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(chart.chartArea.left, y);
      ctx.lineTo(chart.chartArea.right, y);
      ctx.stroke();
      ctx.restore();
    },
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.font = '12px system-ui, sans-serif';
      ctx.textBaseline = 'middle';
      chart.data.datasets.forEach(function (dataset, index) {
        if (index === 0 || chart.getDatasetMeta(index).hidden) return;
        var meta = chart.getDatasetMeta(index);
        var seen = 0;
        dataset.data.forEach(function (point, i) {
          if (!point.label) return;
          var element = meta.data[i];
          ctx.fillStyle = dataset.borderColor;
          // Labels alternate above and below the lane so that neighbours do not overwrite each other.
          var dy = seen++ % 2 === 0 ? -15 : 15;
          ctx.fillText(point.label, element.x + 10, element.y + dy);
        });
      });
      ctx.restore();
    },
  };

  var canvas = document.getElementById('timeline-chart');
  var chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      devicePixelRatio: Math.max(window.devicePixelRatio || 1, 2),
      parsing: true,
      layout: { padding: { right: 24 } },
      scales: {
        x: {
          type: 'linear',
          min: model.range.min,
          max: model.range.max,
          ticks: {
            stepSize: model.range.stepHours * 3600000,
            callback: function (value) {
              return utc(value);
            },
            maxRotation: 0,
            autoSkip: true,
          },
          title: { display: true, text: 'occurredAt (UTC)' },
        },
        y: {
          min: -3.6,
          max: 3.6,
          afterBuildTicks: function (axis) {
            axis.ticks = [-3, -2, -1, 0, 1, 2, 3].map(function (v) {
              return { value: v };
            });
          },
          ticks: {
            callback: function (value) {
              return value >= 0 ? 'tier ' + TIER_NAMES[value] : LANE_NAMES[String(value)];
            },
          },
          grid: { color: 'rgba(0,0,0,0.08)' },
        },
      },
      plugins: {
        legend: { position: 'bottom', labels: { usePointStyle: true } },
        tooltip: {
          callbacks: {
            label: function (context) {
              var raw = context.raw;
              return (raw.label ? raw.label + ' — ' : '') + utc(raw.x) + ' UTC';
            },
          },
        },
      },
    },
    plugins: [markerLabels],
  });

  // Paper gets a picture of the chart: a canvas does not re-layout reliably while printing.
  var picture = document.getElementById('timeline-print');
  picture.src = chart.toBase64Image('image/png', 1);
  document.body.setAttribute('data-chart', 'rendered');
})();
