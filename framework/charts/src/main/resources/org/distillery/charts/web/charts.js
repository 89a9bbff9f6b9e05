/*
 * Distillery's run charts on uPlot, shared by report.html (data inlined) and the dashboard
 * (data fetched and streamed). One chart per metric; in a run's view one line per stage, in the
 * compare view one mean line per seed group and stage with a min-max or +-std band. Checkpoints,
 * loss swaps, resumes and stops are drawn as vertical marks. No inline handlers or styles: the
 * pages run under a strict Content-Security-Policy.
 */
(function () {
  'use strict';

  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf',
    '#7f7f7f', '#bcbd22'];
  var MARK_COLORS = {checkpoint: '#999999', swap: '#ff7f0e', resume: '#2ca02c', 'early-stop': '#9467bd',
    stop: '#d62728'};
  var ORDER = ['loss', 'terms.', 'val.loss', 'val.', 'lr', 'grad-norm', 'tokens-per-s', 'tensor-bytes',
    'native-bytes', 'tokens', 'ms.'];

  function metricRank(metric) {
    for (var i = 0; i < ORDER.length; i++) {
      var o = ORDER[i];
      if (o.charAt(o.length - 1) === '.' ? metric.indexOf(o) === 0 : metric === o) {
        return i;
      }
    }
    return ORDER.length;
  }

  function compareMetrics(a, b) {
    var ra = metricRank(a);
    var rb = metricRank(b);
    return ra !== rb ? ra - rb : (a < b ? -1 : a > b ? 1 : 0);
  }

  function color(i) {
    return PALETTE[i % PALETTE.length];
  }

  function fade(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + (n >> 16 & 255) + ',' + (n >> 8 & 255) + ',' + (n & 255) + ',' + alpha + ')';
  }

  function formatNumber(v) {
    if (v == null || !isFinite(v)) {
      return '-';
    }
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) {
      return v.toExponential(2);
    }
    return a >= 100 ? v.toFixed(1) : v.toPrecision(4).replace(/\.?0+$/, '');
  }

  function formatBytes(v) {
    if (v == null || !isFinite(v)) {
      return '-';
    }
    var units = ['B', 'KB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text != null) {
      e.textContent = text;
    }
    return e;
  }

  /** Aligns lines with their own x values on the union of all x values (null where a line has none). */
  function align(lines) {
    var seen = new Set();
    lines.forEach(function (l) {
      for (var i = 0; i < l.x.length; i++) {
        seen.add(l.x[i]);
      }
    });
    var xs = Array.from(seen).sort(function (a, b) { return a - b; });
    var at = new Map();
    xs.forEach(function (x, i) { at.set(x, i); });
    var columns = [xs];
    lines.forEach(function (l) {
      var keys = l.band ? ['y', 'upper', 'lower'] : ['y'];
      keys.forEach(function (k) {
        var col = new Array(xs.length).fill(null);
        var src = l[k];
        for (var i = 0; i < l.x.length; i++) {
          col[at.get(l.x[i])] = src[i];
        }
        columns.push(col);
      });
    });
    return columns;
  }

  function markersPlugin(chart) {
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx;
          var dpr = window.devicePixelRatio || 1;
          ctx.save();
          ctx.lineWidth = dpr;
          ctx.font = (10 * dpr) + 'px sans-serif';
          chart.markers.forEach(function (m) {
            var x = Math.round(u.valToPos(m.step, 'x', true));
            if (!(x >= u.bbox.left && x <= u.bbox.left + u.bbox.width)) {
              return;
            }
            var c = MARK_COLORS[m.kind] || '#555555';
            ctx.strokeStyle = c;
            ctx.setLineDash(m.kind === 'checkpoint' ? [2 * dpr, 4 * dpr] : [6 * dpr, 3 * dpr]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            if (m.kind !== 'checkpoint') {
              ctx.fillStyle = c;
              ctx.fillText(m.kind, x + 3 * dpr, u.bbox.top + 10 * dpr);
            }
          });
          ctx.restore();
        }
      }
    };
  }

  /**
   * One chart: a figure with a caption, a uPlot plot, and the marks' list. setLines takes
   * [{label, color, x, y}] or, with bands, [{label, color, x, y, lower, upper, band: true}].
   */
  function Chart(parent, metric) {
    this.metric = metric;
    this.markers = [];
    this.lines = [];
    this.figure = el('figure', 'chart');
    this.figure.setAttribute('data-metric', metric);
    this.figure.appendChild(el('figcaption', null, metric));
    this.plotEl = el('div', 'plot');
    this.figure.appendChild(this.plotEl);
    parent.appendChild(this.figure);
    this.uplot = null;
    this.shape = '';
  }

  Chart.prototype.width = function () {
    return Math.max(280, (this.figure.clientWidth || 480) - 8);
  };

  Chart.prototype.setLines = function (lines, markers) {
    this.lines = lines;
    this.markers = markers || [];
    var data = align(lines);
    var shape = lines.map(function (l) { return l.label + (l.band ? '|band' : ''); }).join('\n');
    var points = 0;
    var bands = 0;
    lines.forEach(function (l) {
      l.y.forEach(function (v) {
        if (v != null) {
          points++;
        }
      });
      if (l.band && l.upper.some(function (v, i) { return v != null && l.lower[i] != null && v > l.lower[i]; })) {
        bands++;
      }
    });
    this.figure.setAttribute('data-points', String(points));
    this.figure.setAttribute('data-lines', String(lines.length));
    this.figure.setAttribute('data-bands', String(bands));
    if (this.uplot && shape === this.shape) {
      this.uplot.setData(data);
      return;
    }
    if (this.uplot) {
      this.uplot.destroy();
    }
    this.shape = shape;
    this.uplot = new uPlot(this.options(lines), data, this.plotEl);
    var rows = this.uplot.root.querySelectorAll('.u-legend .u-series');
    var col = 1;
    lines.forEach(function (l) {
      if (l.band) {
        // the band's edges are drawn as a fill; their legend rows would only repeat the label
        [col + 1, col + 2].forEach(function (i) {
          if (rows[i]) {
            rows[i].style.display = 'none';
          }
        });
        col += 3;
      } else {
        col += 1;
      }
    });
  };

  Chart.prototype.options = function (lines) {
    var bytes = /bytes$/.test(this.metric);
    var series = [{label: 'step'}];
    var bands = [];
    lines.forEach(function (l) {
      series.push({label: l.label, stroke: l.color, width: 1.5, spanGaps: true,
        value: function (u, v) { return bytes ? formatBytes(v) : formatNumber(v); }});
      if (l.band) {
        var upper = series.length;
        series.push({label: l.label + ' upper', stroke: fade(l.color, 0.35), width: 0.5, spanGaps: true,
          points: {show: false}});
        series.push({label: l.label + ' lower', stroke: fade(l.color, 0.35), width: 0.5, spanGaps: true,
          points: {show: false}});
        bands.push({series: [upper, upper + 1], fill: fade(l.color, 0.18)});
      }
    });
    return {
      width: this.width(),
      height: 220,
      series: series,
      bands: bands,
      scales: {x: {time: false}},
      axes: [{label: 'step'}, {size: 64, values: function (u, vals) {
        return vals.map(function (v) { return bytes ? formatBytes(v) : formatNumber(v); });
      }}],
      legend: {live: true},
      plugins: [markersPlugin(this)]
    };
  };

  Chart.prototype.resize = function () {
    if (this.uplot) {
      this.uplot.setSize({width: this.width(), height: 220});
    }
  };

  function Grid(container) {
    this.container = container;
    this.charts = {};
    this.grid = el('div', 'charts');
    container.appendChild(this.grid);
    var self = this;
    this.onResize = function () {
      Object.keys(self.charts).forEach(function (k) { self.charts[k].resize(); });
    };
    window.addEventListener('resize', this.onResize);
  }

  /** The chart of a metric, created in metric order. */
  Grid.prototype.chart = function (metric) {
    var c = this.charts[metric];
    if (c) {
      return c;
    }
    c = new Chart(this.grid, metric);
    this.charts[metric] = c;
    var names = Object.keys(this.charts).sort(compareMetrics);
    var self = this;
    names.forEach(function (n) { self.grid.appendChild(self.charts[n].figure); });
    return c;
  };

  Grid.prototype.destroy = function () {
    window.removeEventListener('resize', this.onResize);
    var self = this;
    Object.keys(this.charts).forEach(function (k) {
      if (self.charts[k].uplot) {
        self.charts[k].uplot.destroy();
      }
    });
    this.container.removeChild(this.grid);
  };

  function markerList(container, markers, stages) {
    var old = container.querySelector('ul.markers');
    if (old) {
      container.removeChild(old);
    }
    if (!markers.length) {
      return;
    }
    var ul = el('ul', 'markers');
    markers.forEach(function (m) {
      var li = el('li', 'marker marker-' + m.kind, (stages > 1 ? m.stage + ': ' : '') + m.label);
      li.setAttribute('data-kind', m.kind);
      ul.appendChild(li);
    });
    container.appendChild(ul);
  }

  /**
   * A run's charts. curves: {offset, series: [{stage, metric, kind, x, y}], markers: [...]}.
   * append(delta) adds streamed points (the same shape, every point after the curves' offset).
   */
  function RunCharts(container, curves) {
    this.container = container;
    this.grid = new Grid(container);
    this.series = {};
    this.markers = [];
    this.stageOrder = [];
    this.pending = null;
    this.points = 0;
    this.add(curves);
    this.draw();
  }

  RunCharts.prototype.add = function (data) {
    var self = this;
    (data.series || []).forEach(function (s) {
      var key = s.stage + '\u0000' + s.metric;
      var mine = self.series[key];
      if (!mine) {
        mine = self.series[key] = {stage: s.stage, metric: s.metric, kind: s.kind, x: [], y: []};
        if (self.stageOrder.indexOf(s.stage) < 0) {
          self.stageOrder.push(s.stage);
        }
      }
      for (var i = 0; i < s.x.length; i++) {
        mine.x.push(s.x[i]);
        mine.y.push(s.y[i]);
      }
      self.points += s.x.length;
    });
    (data.markers || []).forEach(function (m) { self.markers.push(m); });
  };

  /** Points held in the page, so the caller can fetch downsampled curves again when it grows. */
  RunCharts.prototype.pointCount = function () {
    return this.points;
  };

  RunCharts.prototype.append = function (delta) {
    this.add(delta);
    var self = this;
    if (this.pending == null) {
      this.pending = window.requestAnimationFrame(function () {
        self.pending = null;
        self.draw();
      });
    }
  };

  RunCharts.prototype.draw = function () {
    var self = this;
    var byMetric = {};
    Object.keys(this.series).forEach(function (k) {
      var s = self.series[k];
      (byMetric[s.metric] = byMetric[s.metric] || []).push(s);
    });
    var stages = this.stageOrder.length;
    Object.keys(byMetric).sort(compareMetrics).forEach(function (metric) {
      var list = byMetric[metric];
      // a one-off event figure (a single point) is not a curve
      if (list[0].kind === 'event' && list.every(function (s) { return s.x.length < 2; })) {
        return;
      }
      var lines = list.map(function (s) {
        return {label: s.stage, color: color(self.stageOrder.indexOf(s.stage)), x: s.x, y: s.y};
      });
      var stageSet = list.map(function (s) { return s.stage; });
      var marks = self.markers.filter(function (m) { return stageSet.indexOf(m.stage) >= 0; });
      self.grid.chart(metric).setLines(lines, marks);
    });
    markerList(this.container, this.markers, stages);
  };

  RunCharts.prototype.destroy = function () {
    this.grid.destroy();
  };

  /**
   * Seed groups' charts. groups: [{label, series: [{stage, metric, x, mean, min, max, std}], markers}];
   * band: 'min-max' or 'std'.
   */
  function GroupCharts(container, groups, band) {
    this.grid = new Grid(container);
    var byMetric = {};
    var stagesOf = {};
    groups.forEach(function (g, gi) {
      var stages = [];
      g.series.forEach(function (s) {
        if (stages.indexOf(s.stage) < 0) {
          stages.push(s.stage);
        }
      });
      stagesOf[gi] = stages;
      g.series.forEach(function (s) {
        (byMetric[s.metric] = byMetric[s.metric] || []).push({group: gi, s: s});
      });
    });
    var self = this;
    Object.keys(byMetric).sort(compareMetrics).forEach(function (metric) {
      var list = byMetric[metric];
      if (list[0].s.kind === 'event' && list.every(function (e) { return e.s.x.length < 2; })) {
        return;
      }
      var lines = list.map(function (e, i) {
        var g = groups[e.group];
        var s = e.s;
        var lower = band === 'std' ? s.mean.map(function (m, j) { return m == null || s.std[j] == null ? null : m - s.std[j]; }) : s.min;
        var upper = band === 'std' ? s.mean.map(function (m, j) { return m == null || s.std[j] == null ? null : m + s.std[j]; }) : s.max;
        var label = g.label + (stagesOf[e.group].length > 1 ? ' / ' + s.stage : '');
        return {label: label, color: color(i), x: s.x, y: s.mean, lower: lower, upper: upper, band: true};
      });
      var marks = [];
      groups.forEach(function (g) { (g.markers || []).forEach(function (m) { marks.push(m); }); });
      var c = self.grid.chart(metric);
      c.figure.setAttribute('data-band', band);
      c.setLines(lines, marks);
    });
  }

  GroupCharts.prototype.destroy = function () {
    this.grid.destroy();
  };

  window.DistillCharts = {
    RunCharts: RunCharts,
    GroupCharts: GroupCharts,
    formatNumber: formatNumber,
    formatBytes: formatBytes,
    compareMetrics: compareMetrics,
    color: color
  };

  // report.html: the curves are inlined in a JSON script element
  document.addEventListener('DOMContentLoaded', function () {
    var data = document.getElementById('distill-report-data');
    var target = document.getElementById('distill-report-charts');
    if (data && target) {
      window.DistillCharts.report = new RunCharts(target, JSON.parse(data.textContent));
    }
  });
})();
