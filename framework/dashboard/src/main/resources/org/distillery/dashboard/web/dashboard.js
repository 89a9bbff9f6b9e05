/*
 * The Distillery dashboard: one page, four views chosen by the URL fragment:
 *   #/                       runs and seed groups
 *   #/run/<id>               a run's live curves
 *   #/compare?runs=a,b,...   seed groups (mean with band) and the compare table
 *   #/eval/<id>              evaluated models and their predictions
 * Live updates arrive as server-sent events (api/stream); the browser resumes a dropped stream
 * from the last event id by itself.
 */
(function () {
  'use strict';

  var C = window.DistillCharts;
  var view = document.getElementById('view');
  var crumbs = document.getElementById('crumbs');
  var live = document.getElementById('live');
  var cleanup = null;

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

  function link(href, text) {
    var a = el('a', null, text);
    a.href = href;
    return a;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function getJson(url) {
    return fetch(url, {headers: {Accept: 'application/json'}}).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) {
          throw new Error(body.error || ('HTTP ' + r.status));
        }
        return body;
      });
    });
  }

  function duration(seconds) {
    if (seconds == null || !isFinite(seconds)) {
      return '';
    }
    var s = Math.round(seconds);
    var h = Math.floor(s / 3600);
    var m = Math.floor(s % 3600 / 60);
    var r = s % 60;
    return h > 0 ? h + 'h ' + String(m).padStart(2, '0') + 'm' : m > 0 ? m + 'm ' + String(r).padStart(2, '0') + 's'
      : r + 's';
  }

  function when(iso) {
    if (!iso) {
      return '';
    }
    var d = new Date(iso);
    var pad = function (n) { return String(n).padStart(2, '0'); };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':'
      + pad(d.getMinutes());
  }

  function reasonText(reason) {
    var span = el('span', 'reason', reason.length > 160 ? reason.slice(0, 157) + '\u2026' : reason);
    span.title = reason;
    return span;
  }

  function statusBadge(run) {
    var span = el('span', 'status status-' + run.status,
      run.status === 'gone' ? 'stopped (process gone)' : run.status);
    span.title = run.statusLabel;
    span.setAttribute('data-status', run.status);
    return span;
  }

  function statusCell(run) {
    var td = el('td', 'text');
    td.appendChild(statusBadge(run));
    if ((run.status === 'failed' || run.status === 'stopped') && run.reason) {
      td.appendChild(reasonText(run.reason));
    }
    return td;
  }

  function stagesList(run) {
    var ul = el('ul', 'stages');
    run.stages.forEach(function (s) {
      var li = el('li', 'stage-' + s.state);
      li.appendChild(document.createTextNode(s.name));
      if (s.of > 0) {
        var p = el('progress');
        p.max = s.of;
        p.value = Math.min(s.step, s.of);
        li.appendChild(p);
        li.appendChild(document.createTextNode(s.step + '/' + s.of));
      }
      li.appendChild(document.createTextNode(' ' + s.state + (s.etaSeconds != null ? ', eta ' + duration(s.etaSeconds)
        : '')));
      ul.appendChild(li);
    });
    return ul;
  }

  function setCrumbs(parts) {
    clear(crumbs);
    parts.forEach(function (p, i) {
      if (i > 0) {
        crumbs.appendChild(document.createTextNode(' / '));
      }
      crumbs.appendChild(p.href ? link(p.href, p.text) : document.createTextNode(p.text));
    });
  }

  function stream(query, handlers) {
    var es = new EventSource('api/stream' + query);
    es.onopen = function () {
      live.textContent = '\u25cf live';
      live.className = 'live on';
    };
    es.onerror = function () {
      live.textContent = '\u25cf reconnecting';
      live.className = 'live off';
    };
    Object.keys(handlers).forEach(function (type) {
      es.addEventListener(type, function (e) {
        handlers[type](JSON.parse(e.data));
      });
    });
    return es;
  }

  // ---- runs ------------------------------------------------------------------------------------

  function runsView() {
    setCrumbs([{text: 'runs'}]);
    clear(view);
    view.appendChild(el('h1', null, 'Runs'));
    var roots = el('p', 'muted');
    view.appendChild(roots);
    var bar = el('div', 'toolbar');
    var compare = el('button', null, 'Compare selected');
    compare.id = 'compare-selected';
    compare.disabled = true;
    bar.appendChild(compare);
    view.appendChild(bar);
    var table = el('table', 'data');
    table.id = 'runs-table';
    var head = el('tr');
    ['', 'run', 'experiment', 'method', 'seed', 'status', 'stages', 'started', 'duration', 'eta', ''].forEach(function (h) {
      head.appendChild(el('th', 'text', h));
    });
    var thead = el('thead');
    thead.appendChild(head);
    table.appendChild(thead);
    var tbody = el('tbody');
    table.appendChild(tbody);
    view.appendChild(table);
    view.appendChild(el('h2', null, 'Seed groups'));
    var groups = el('ul', 'groups');
    groups.id = 'groups';
    view.appendChild(groups);
    var selected = new Set();

    compare.addEventListener('click', function () {
      location.hash = '#/compare?runs=' + Array.from(selected).map(encodeURIComponent).join(',');
    });

    function render(data) {
      roots.textContent = 'Run folders: ' + data.roots.join(', ') + ' \u00b7 ' + data.runs.length + ' runs';
      clear(tbody);
      if (!data.runs.length) {
        var tr = el('tr');
        var td = el('td', 'text muted', 'No run directories yet. Start one with: distill run <experiment>');
        td.colSpan = 11;
        tr.appendChild(td);
        tbody.appendChild(tr);
      }
      data.runs.forEach(function (r) {
        var tr = el('tr');
        tr.setAttribute('data-run', r.id);
        tr.setAttribute('data-status', r.status);
        var cb = el('input');
        cb.type = 'checkbox';
        cb.checked = selected.has(r.id);
        cb.addEventListener('change', function () {
          if (cb.checked) {
            selected.add(r.id);
          } else {
            selected.delete(r.id);
          }
          compare.disabled = selected.size === 0;
        });
        var tdc = el('td', 'text');
        tdc.appendChild(cb);
        tr.appendChild(tdc);
        var tdr = el('td', 'text');
        tdr.appendChild(link('#/run/' + encodeURIComponent(r.id), r.id));
        tr.appendChild(tdr);
        tr.appendChild(el('td', 'text', r.experiment));
        tr.appendChild(el('td', 'text', r.method));
        tr.appendChild(el('td', null, String(r.seed)));
        tr.appendChild(statusCell(r));
        var tds = el('td', 'text');
        tds.appendChild(stagesList(r));
        tr.appendChild(tds);
        tr.appendChild(el('td', 'text', when(r.started)));
        tr.appendChild(el('td', null, duration(r.durationSeconds)));
        tr.appendChild(el('td', null, duration(r.etaSeconds)));
        var tdl = el('td', 'text');
        if (r.hasEval) {
          tdl.appendChild(link('#/eval/' + encodeURIComponent(r.id), 'evaluation'));
        }
        tr.appendChild(tdl);
        tbody.appendChild(tr);
      });
      clear(groups);
      data.groups.forEach(function (g) {
        var li = el('li');
        li.setAttribute('data-group', g.key);
        li.appendChild(document.createTextNode(g.name + ' \u2014 ' + g.runs.length + ' run' + (g.runs.length > 1 ? 's' : '')
          + ', seed' + (g.seeds.length > 1 ? 's ' : ' ') + g.seeds.join(', ') + ' '));
        li.appendChild(link('#/compare?runs=' + g.runs.map(encodeURIComponent).join(','),
          g.runs.length > 1 ? 'compare seeds' : 'view'));
        groups.appendChild(li);
      });
    }

    var last = null;
    function refresh() {
      return getJson('api/runs').then(function (d) {
        last = d;
        render(d);
      });
    }

    refresh().catch(showError);
    var es = stream('', {
      runs: function (summaries) {
        // the stream sends every run's summary when one changes; new runs need the full list
        if (!last || summaries.length !== last.runs.length) {
          refresh();
          return;
        }
        last.runs = summaries;
        render(last);
      }
    });
    return function () {
      es.close();
    };
  }

  // ---- one run ---------------------------------------------------------------------------------

  var POINTS = 2000;

  function runView(id) {
    setCrumbs([{text: 'runs', href: '#/'}, {text: id}]);
    clear(view);
    var title = el('h1', null, id);
    view.appendChild(title);
    var summary = el('div', 'summary');
    summary.id = 'run-summary';
    view.appendChild(summary);
    var chartsBox = el('div');
    chartsBox.id = 'run-charts';
    view.appendChild(chartsBox);
    var configBox = el('details', 'config');
    configBox.appendChild(el('summary', null, 'config.conf (resolved)'));
    var pre = el('pre');
    configBox.appendChild(pre);
    view.appendChild(configBox);
    var charts = null;
    var es = null;
    var closed = false;

    function renderSummary(r) {
      clear(summary);
      var left = el('div');
      left.appendChild(statusBadge(r));
      if (r.reason && r.status !== 'finished') {
        left.appendChild(reasonText(r.reason));
      }
      left.appendChild(el('div', 'muted', r.experiment + ' \u00b7 ' + r.method + ' \u00b7 seed ' + r.seed));
      left.appendChild(el('div', 'muted', 'started ' + when(r.started) + ' \u00b7 ' + duration(r.durationSeconds)
        + (r.etaSeconds != null ? ' \u00b7 eta ' + duration(r.etaSeconds) : '')));
      summary.appendChild(left);
      summary.appendChild(stagesList(r));
      var links = el('div');
      if (r.hasEval) {
        links.appendChild(link('#/eval/' + encodeURIComponent(id), 'evaluation'));
      }
      summary.appendChild(links);
    }

    function start() {
      if (closed) {
        return;
      }
      Promise.all([getJson('api/runs/' + encodeURIComponent(id)),
        getJson('api/runs/' + encodeURIComponent(id) + '/curves?points=' + POINTS)]).then(function (res) {
        if (closed) {
          return;
        }
        renderSummary(res[0]);
        pre.textContent = JSON.stringify(res[0].config, null, 2);
        if (charts) {
          charts.destroy();
        }
        clear(chartsBox);
        var curves = res[1].curves;
        charts = new C.RunCharts(chartsBox, curves);
        window.distillView = {charts: charts};
        var cursor = id + ':' + res[1].generation + ':' + curves.offset;
        es = stream('?runs=' + encodeURIComponent(id) + '&from=' + encodeURIComponent(cursor), {
          delta: function (d) {
            charts.append(d.delta);
            if (charts.pointCount() > 4 * POINTS * Math.max(1, Object.keys(charts.series).length)) {
              // too many raw points in the page: fetch the downsampled curves again
              restart();
            }
          },
          reset: function () {
            restart();
          },
          runs: function (list) {
            if (list.length) {
              renderSummary(list[0]);
            }
          }
        });
      }).catch(showError);
    }

    function restart() {
      if (es) {
        es.close();
        es = null;
      }
      start();
    }

    start();
    return function () {
      closed = true;
      if (es) {
        es.close();
      }
      if (charts) {
        charts.destroy();
      }
    };
  }

  // ---- compare ---------------------------------------------------------------------------------

  function compareView(ids) {
    setCrumbs([{text: 'runs', href: '#/'}, {text: 'compare'}]);
    clear(view);
    view.appendChild(el('h1', null, 'Compare'));
    var bar = el('div', 'toolbar');
    var label = el('label', null, 'band ');
    var band = el('select');
    band.id = 'band';
    [['min-max', 'min\u2013max over seeds'], ['std', '\u00b1 1 std over seeds']].forEach(function (o) {
      var opt = el('option', null, o[1]);
      opt.value = o[0];
      band.appendChild(opt);
    });
    label.appendChild(band);
    bar.appendChild(label);
    var note = el('span', 'muted', ids.length + ' runs');
    bar.appendChild(note);
    view.appendChild(bar);
    var legend = el('ul', 'groups');
    legend.id = 'compare-groups';
    view.appendChild(legend);
    var chartsBox = el('div');
    chartsBox.id = 'compare-charts';
    view.appendChild(chartsBox);
    view.appendChild(el('h2', null, 'Results (distill compare)'));
    var tableBox = el('div');
    tableBox.id = 'compare-table';
    view.appendChild(tableBox);
    var charts = null;
    var data = null;
    var timer = null;
    var closed = false;

    function draw() {
      if (charts) {
        charts.destroy();
      }
      charts = new C.GroupCharts(chartsBox, data.groups, band.value);
      window.distillView = {charts: charts, data: data};
    }

    function renderTable(t) {
      clear(tableBox);
      if (!t.rows.length) {
        tableBox.appendChild(el('p', 'muted', 'No results yet (no results.json or eval/*.json in these runs).'));
        return;
      }
      var table = el('table', 'data');
      var head = el('tr');
      head.appendChild(el('th', 'text', 'method/model'));
      t.columns.forEach(function (c) { head.appendChild(el('th', null, c)); });
      var thead = el('thead');
      thead.appendChild(head);
      table.appendChild(thead);
      var tbody = el('tbody');
      t.rows.forEach(function (r) {
        var tr = el('tr');
        tr.appendChild(el('td', 'text', r.label));
        t.columns.forEach(function (c) { tr.appendChild(el('td', null, r.cells[c] || '-')); });
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      tableBox.appendChild(table);
      tableBox.appendChild(el('p', 'muted', 'cells: mean \u00b1 sample std over seeds (number of runs)'));
    }

    function load() {
      return getJson('api/compare?runs=' + ids.map(encodeURIComponent).join(',')).then(function (d) {
        if (closed) {
          return;
        }
        data = d;
        clear(legend);
        d.groups.forEach(function (g, i) {
          var li = el('li', null, g.label + ': ');
          li.setAttribute('data-group', g.key);
          g.runs.forEach(function (r, j) {
            if (j > 0) {
              li.appendChild(document.createTextNode(', '));
            }
            li.appendChild(link('#/run/' + encodeURIComponent(r), r));
          });
          li.style.borderLeft = '4px solid ' + C.color(i);
          li.style.paddingLeft = '6px';
          legend.appendChild(li);
        });
        draw();
        renderTable(d.table);
      });
    }

    band.addEventListener('change', function () {
      if (data) {
        draw();
      }
    });
    var es = null;
    load().then(function () {
      if (closed) {
        return;
      }
      // no cursor: the stream starts each run with a reset (nothing to do, the aggregates are fresh), then
      // sends deltas, after which the aggregates are fetched again, at most every 2 s
      es = stream('?runs=' + ids.map(encodeURIComponent).join(','), {
        delta: schedule,
        reset: function () {}
      });
    }).catch(showError);

    function schedule() {
      if (timer == null) {
        timer = setTimeout(function () {
          timer = null;
          load().catch(showError);
        }, 2000);
      }
    }

    return function () {
      closed = true;
      if (es) {
        es.close();
      }
      if (timer != null) {
        clearTimeout(timer);
      }
      if (charts) {
        charts.destroy();
      }
    };
  }

  // ---- evaluation ------------------------------------------------------------------------------

  function evalView(id) {
    setCrumbs([{text: 'runs', href: '#/'}, {text: id, href: '#/run/' + encodeURIComponent(id)}, {text: 'evaluation'}]);
    clear(view);
    view.appendChild(el('h1', null, 'Evaluation of ' + id));
    var metricsBox = el('div');
    metricsBox.id = 'eval-metrics';
    view.appendChild(metricsBox);
    view.appendChild(el('h2', null, 'Predictions beside the references'));
    var bar = el('div', 'toolbar');
    function select(idName, labelText) {
      var l = el('label', null, labelText + ' ');
      var s = el('select');
      s.id = idName;
      l.appendChild(s);
      bar.appendChild(l);
      return s;
    }
    var model = select('model', 'model');
    var task = select('task-filter', 'task');
    var sort = select('sort', 'sort');
    [['', 'file order'], ['-rouge-l', 'Rouge-L, best first'], ['rouge-l', 'Rouge-L, worst first']].forEach(function (o) {
      var opt = el('option', null, o[1]);
      opt.value = o[0];
      sort.appendChild(opt);
    });
    var count = el('span', 'muted');
    count.id = 'predictions-count';
    bar.appendChild(count);
    view.appendChild(bar);
    var table = el('table', 'data');
    table.id = 'predictions';
    var head = el('tr');
    ['id', 'task', 'prompt', 'reference', 'prediction', 'rouge-l', 'exact'].forEach(function (h) {
      head.appendChild(el('th', h === 'rouge-l' || h === 'exact' ? null : 'text', h));
    });
    var thead = el('thead');
    thead.appendChild(head);
    table.appendChild(thead);
    var tbody = el('tbody');
    table.appendChild(tbody);
    view.appendChild(table);
    var pager = el('div', 'pager');
    var prev = el('button', null, '\u2190 previous');
    var next = el('button', null, 'next \u2192');
    var where = el('span', 'muted');
    pager.appendChild(prev);
    pager.appendChild(document.createTextNode(' '));
    pager.appendChild(next);
    pager.appendChild(document.createTextNode(' '));
    pager.appendChild(where);
    view.appendChild(pager);
    var LIMIT = 100;
    var offset = 0;
    var knownTasks = null;

    function loadPredictions() {
      var q = 'model=' + encodeURIComponent(model.value) + '&task=' + encodeURIComponent(task.value) + '&sort='
        + encodeURIComponent(sort.value) + '&offset=' + offset + '&limit=' + LIMIT;
      return getJson('api/runs/' + encodeURIComponent(id) + '/predictions?' + q).then(function (page) {
        if (knownTasks === null || knownTasks !== page.tasks.join(',')) {
          knownTasks = page.tasks.join(',');
          var keep = task.value;
          clear(task);
          var all = el('option', null, 'all tasks');
          all.value = '';
          task.appendChild(all);
          page.tasks.forEach(function (t) {
            var o = el('option', null, t);
            o.value = t;
            task.appendChild(o);
          });
          task.value = keep;
        }
        clear(tbody);
        page.rows.forEach(function (r) {
          var tr = el('tr', r.exact === 1 ? 'exact' : null);
          tr.setAttribute('data-task', r.task);
          tr.setAttribute('data-rouge', String(r.rougeL));
          tr.appendChild(el('td', 'text', r.id));
          tr.appendChild(el('td', 'text', r.task));
          tr.appendChild(el('td', 'wrap', r.prompt));
          tr.appendChild(el('td', 'wrap', r.reference));
          tr.appendChild(el('td', 'wrap', r.prediction));
          tr.appendChild(el('td', 'score', r.rougeL.toFixed(3)));
          tr.appendChild(el('td', 'score', r.exact === 1 ? 'yes' : ''));
          tbody.appendChild(tr);
        });
        count.textContent = page.total + ' records' + (task.value ? ' of task ' + task.value : '');
        where.textContent = page.total ? (offset + 1) + '\u2013' + (offset + page.rows.length) + ' of ' + page.total : '';
        prev.disabled = offset === 0;
        next.disabled = offset + page.rows.length >= page.total;
      });
    }

    [model, task, sort].forEach(function (s) {
      s.addEventListener('change', function () {
        offset = 0;
        loadPredictions().catch(showError);
      });
    });
    prev.addEventListener('click', function () {
      offset = Math.max(0, offset - LIMIT);
      loadPredictions().catch(showError);
    });
    next.addEventListener('click', function () {
      offset += LIMIT;
      loadPredictions().catch(showError);
    });

    getJson('api/runs/' + encodeURIComponent(id) + '/eval').then(function (e) {
      clear(metricsBox);
      if (!e.models.length) {
        metricsBox.appendChild(el('p', 'muted', 'No evaluations in this run (eval/*.json).'));
        return;
      }
      var t = el('table', 'data');
      t.id = 'eval-table';
      var h = el('tr');
      h.appendChild(el('th', 'text', 'model'));
      e.columns.forEach(function (c) { h.appendChild(el('th', null, c)); });
      var th = el('thead');
      th.appendChild(h);
      t.appendChild(th);
      var tb = el('tbody');
      e.models.forEach(function (m) {
        var tr = el('tr');
        tr.appendChild(el('td', 'text', m.name));
        e.columns.forEach(function (c) {
          tr.appendChild(el('td', null, m.metrics[c] == null ? '' : C.formatNumber(m.metrics[c])));
        });
        tb.appendChild(tr);
        if (m.predictions) {
          var o = el('option', null, m.name);
          o.value = m.name;
          model.appendChild(o);
        }
      });
      t.appendChild(tb);
      metricsBox.appendChild(t);
      if (model.options.length) {
        // a student first, when there is one: its answers are what the page is for
        var student = e.models.filter(function (m) { return m.predictions && m.name !== 'teacher'; })[0];
        if (student) {
          model.value = student.name;
        }
        return loadPredictions();
      }
      return null;
    }).catch(showError);
    live.textContent = '';
    return null;
  }

  // ---- routing ---------------------------------------------------------------------------------

  function showError(e) {
    var p = el('p', 'error', 'Error: ' + (e && e.message ? e.message : e));
    p.id = 'error';
    view.appendChild(p);
  }

  function route() {
    if (typeof cleanup === 'function') {
      cleanup();
    }
    cleanup = null;
    window.distillView = null;
    var h = location.hash.replace(/^#/, '') || '/';
    var q = '';
    var qi = h.indexOf('?');
    if (qi >= 0) {
      q = h.slice(qi + 1);
      h = h.slice(0, qi);
    }
    var parts = h.split('/').filter(function (s) { return s.length; }).map(decodeURIComponent);
    var params = new URLSearchParams(q);
    if (parts.length === 0) {
      cleanup = runsView();
    } else if (parts[0] === 'run' && parts.length === 2) {
      cleanup = runView(parts[1]);
    } else if (parts[0] === 'compare') {
      var ids = (params.get('runs') || '').split(',').filter(function (s) { return s.length; });
      cleanup = compareView(ids);
    } else if (parts[0] === 'eval' && parts.length === 2) {
      cleanup = evalView(parts[1]);
    } else {
      clear(view);
      showError(new Error('no such page: ' + location.hash));
    }
  }

  window.addEventListener('hashchange', route);
  route();
})();
