// evalcli report: the rows table (filter, search, sort, details). Data only ever reaches the
// page through textContent; the page's CSP allows this script by its hash and nothing else.
(function () {
  "use strict";
  var source = document.getElementById("rows-data");
  if (!source) return;
  var data = JSON.parse(source.textContent);
  var cols = data.columns, evals = data.evaluators, scores = data.scores;
  var table = document.getElementById("rows");
  var tbody = table.tBodies[0];
  var width = 2 + data.preview.length + scores.length;
  var fResult = document.getElementById("f-result");
  var fEval = document.getElementById("f-evaluator");
  var fSearch = document.getElementById("f-search");
  var fCount = document.getElementById("f-count");
  var rows = data.rows.map(function (r) {
    return { line: r[0], f: r[1], e: r[2], v: r[3], t: r[4], tr: null, detail: null, text: null };
  });

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }
  function num(x) {
    if (Number.isInteger(x)) return String(x);
    return String(Math.round(x * 1000) / 1000);
  }
  function show(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return num(v);
    if (typeof v === "object") return JSON.stringify(v, null, 1);
    return String(v);
  }
  function value(row, c) { return c < row.v.length ? row.v[c] : null; }
  function badge(tone, text) { return el("span", "badge tone-" + tone, text); }

  // Header: line, result, previews, one sortable column per score.
  var head = el("tr");
  function sortable(label, key, title) {
    var th = el("th", "sortable");
    var b = el("button", null, label.replace(/_/g, "_\u200b"));  // may wrap after "_"
    b.type = "button";
    if (title) b.title = title;
    b.dataset.sort = key;
    th.appendChild(b);
    return th;
  }
  head.appendChild(sortable("#", "line"));
  head.appendChild(el("th", "result", "result"));
  data.preview.forEach(function (c) { head.appendChild(el("th", "txt", cols[c][1])); });
  scores.forEach(function (s, i) {
    head.appendChild(sortable(s[1], String(i), s[2])).classList.add("num");
  });
  table.tHead.appendChild(head);

  function buildRow(row) {
    var tr = el("tr", "row");
    tr.id = "row-" + row.line;
    tr.dataset.line = row.line;
    tr.appendChild(el("td", "num", String(row.line)));
    var res = el("td", "result");
    if (row.e.length) res.appendChild(badge("bad", "error: " + row.e.map(function (i) { return evals[i]; }).join(", ")));
    if (row.f.length) res.appendChild(badge("warn", "fail: " + row.f.map(function (i) { return evals[i]; }).join(", ")));
    if (!row.e.length && !row.f.length) res.appendChild(badge("ok", "pass"));
    tr.appendChild(res);
    data.preview.forEach(function (c) { tr.appendChild(el("td", "txt", show(value(row, c)))); });
    scores.forEach(function (s) { tr.appendChild(el("td", "num", show(value(row, s[0])))); });
    return tr;
  }

  function pairs(row, group) {
    var dl = el("dl", "kv");
    cols.forEach(function (c, i) {
      var v = value(row, i);
      if (c[0] !== group || v === null || v === undefined || c[1] === "evaluation_per_turn") return;
      if (row.t && row.t[0] === i) return;  // the conversation: shown as its turns
      dl.appendChild(el("dt", null, c[1]));
      dl.appendChild(el("dd", null, show(v)));
    });
    return dl.childNodes.length ? dl : null;
  }
  function turnsTable(row) {
    var perTurn = [];
    cols.forEach(function (c, i) {
      var v = value(row, i);
      if (c[1] === "evaluation_per_turn" && v && typeof v === "object") perTurn.push([c[0], v]);
    });
    var t = el("table", "turns");
    var h = el("tr");
    ["turn", "user", "assistant"].forEach(function (x) { h.appendChild(el("th", null, x)); });
    perTurn.forEach(function (p) { h.appendChild(el("th", null, p[0])); });
    t.appendChild(h);
    row.t[1].forEach(function (turn, k) {
      var tr = el("tr");
      tr.appendChild(el("td", "num", String(k + 1)));
      tr.appendChild(el("td", "msg", turn[0]));
      tr.appendChild(el("td", "msg", turn[1]));
      perTurn.forEach(function (p) {
        var td = el("td", "kvs");
        Object.keys(p[1]).forEach(function (key) {
          var list = p[1][key];
          if (Array.isArray(list) && k < list.length && list[k] !== null) {
            td.appendChild(el("div", null, key + ": " + show(list[k])));
          }
        });
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    return t;
  }
  function buildDetail(row) {
    var tr = el("tr", "detail");
    var td = el("td");
    td.colSpan = width;
    var box = el("div", "detail-box");
    var groups = [["in", "inputs"], ["out", "target outputs"]];
    evals.forEach(function (a) { groups.push([a, a]); });
    groups.forEach(function (g) {
      var dl = pairs(row, g[0]);
      if (!dl) return;
      var part = el("div", "part");
      part.appendChild(el("h4", null, g[1]));
      part.appendChild(dl);
      box.appendChild(part);
    });
    if (row.t) {
      var conv = el("div", "part wide");
      conv.appendChild(el("h4", null, cols[row.t[0]][1] + ": " + row.t[1].length + " turns"));
      conv.appendChild(turnsTable(row));
      box.appendChild(conv);
    }
    td.appendChild(box);
    tr.appendChild(td);
    return tr;
  }
  function toggle(row, open) {
    var want = open === undefined ? !(row.detail && !row.detail.hidden) : open;
    if (want && !row.detail) {
      row.detail = buildDetail(row);
      row.tr.after(row.detail);
    }
    if (row.detail) row.detail.hidden = !want;
    row.tr.classList.toggle("open", want);
  }

  function searchText(row) {
    if (row.text === null) {
      var parts = [String(row.line)];
      row.v.forEach(function (v) { parts.push(show(v)); });
      if (row.t) row.t[1].forEach(function (t) { parts.push(t[0], t[1]); });
      row.text = parts.join("\n").toLowerCase();
    }
    return row.text;
  }
  function matches(row, mode, ev, q) {
    var f = ev === "" ? row.f.length > 0 : row.f.indexOf(+ev) >= 0;
    var e = ev === "" ? row.e.length > 0 : row.e.indexOf(+ev) >= 0;
    if (mode === "fail" && !f) return false;
    if (mode === "error" && !e) return false;
    if (mode === "pass" && (f || e)) return false;
    return !q || searchText(row).indexOf(q) >= 0;
  }
  // Rows are put in the page a few at a time: FIRST at once, then PAGE more on demand or
  // when the end of the table scrolls into view. Laying out thousands of table rows at once
  // takes seconds; fifty fill a screen and keep the page's first paint quick.
  var FIRST = 50, PAGE = 200;
  var matched = rows, shown = 0;
  var more = document.getElementById("rows-more");
  var moreButton = document.getElementById("rows-more-button");
  var allButton = document.getElementById("rows-all-button");
  function render(count) {
    var frag = document.createDocumentFragment();
    var end = Math.min(matched.length, shown + count);
    for (; shown < end; shown += 1) {
      var row = matched[shown];
      if (!row.tr) row.tr = buildRow(row);
      frag.appendChild(row.tr);
      if (row.detail) frag.appendChild(row.detail);
    }
    tbody.appendChild(frag);
    var left = matched.length - shown;
    more.hidden = left <= 0;
    moreButton.textContent = "show " + Math.min(PAGE, left) + " more";
    allButton.textContent = "show all " + left;
    fCount.textContent = matched.length + " of " + rows.length + " rows match" +
      (left > 0 ? " (first " + shown + " shown)" : "");
  }
  function apply() {
    var mode = fResult.value, ev = fEval.value, q = fSearch.value.trim().toLowerCase();
    matched = rows.filter(function (row) { return matches(row, mode, ev, q); });
    tbody.textContent = "";
    shown = 0;
    render(FIRST);
  }
  moreButton.addEventListener("click", function () { render(PAGE); });
  allButton.addEventListener("click", function () { render(matched.length); });
  if (window.IntersectionObserver) {
    new IntersectionObserver(function (entries) {
      if (entries[0].isIntersecting && shown < matched.length) render(PAGE);
    }).observe(more);
  }

  var sortKey = "line", sortDir = 1;
  function sortBy(key) {
    sortDir = key === sortKey ? -sortDir : (key === "line" ? 1 : -1);
    sortKey = key;
    var col = key === "line" ? null : scores[+key][0];
    function keyOf(row) {
      var v = col === null ? row.line : value(row, col);
      return typeof v === "number" ? v : typeof v === "boolean" ? +v : null;
    }
    rows.sort(function (a, b) {
      var x = keyOf(a), y = keyOf(b);
      if (x === y) return a.line - b.line;
      if (x === null) return 1;  // rows without the score go last either way
      if (y === null) return -1;
      return (x - y) * sortDir;
    });
    apply();
    head.querySelectorAll("th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    var b = head.querySelector('button[data-sort="' + key + '"]');
    if (b) b.parentNode.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
  }
  head.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-sort]");
    if (b) sortBy(b.dataset.sort);
  });

  var byLine = {};
  rows.forEach(function (row) { byLine[row.line] = row; });
  tbody.addEventListener("click", function (ev) {
    var tr = ev.target.closest("tr.row");
    if (tr) toggle(byLine[tr.dataset.line]);
  });
  var timer = null;
  fResult.addEventListener("change", apply);
  fEval.addEventListener("change", apply);
  fSearch.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 120);
  });

  // Links to #row-N (from the errors section) open that row, even when filtered out.
  function reveal() {
    var m = /^#row-(\d+)$/.exec(location.hash);
    if (!m) return;
    var row = byLine[m[1]];
    if (!row) return;
    if (matched.indexOf(row) < 0) {
      fResult.value = "all"; fEval.value = ""; fSearch.value = "";
      apply();
    }
    var at = matched.indexOf(row);
    if (at >= shown) render(at + 1 - shown);
    toggle(row, true);
    row.tr.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", reveal);
  apply();
  reveal();
})();
