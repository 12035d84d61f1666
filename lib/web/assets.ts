// The dashboard stylesheet, client script and favicon.
/** The stylesheet: system fonts, readable on a phone (tables scroll sideways), dark mode following the system. */
export const STYLE_CSS = `:root{color-scheme:light dark;--fg:#1b1f24;--mute:#59636e;--bg:#fff;--bg2:#f6f8fa;--line:#d1d9e0;--link:#0969da;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--warnbg:#fff8c5}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--mute:#9198a1;--bg:#0d1117;--bg2:#151b23;--line:#3d444d;--link:#4493f8;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--warnbg:#2e2a1a}}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
header,main{max-width:72rem;margin:0 auto;padding:.5rem 1rem}
header{display:flex;gap:1rem;align-items:baseline;justify-content:space-between;flex-wrap:wrap}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
a{color:var(--link)}code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
#live{margin:0;color:var(--mute);font-size:.85rem}
section.warn,.health.warn{border-left:4px solid var(--warn);background:var(--warnbg);padding:.1rem .8rem .4rem}
.alert{color:var(--bad);font-weight:600;margin:.3rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.4rem 0}dt{font-weight:600}dd{margin:0;min-width:0}
.none{color:var(--mute)}.ok{color:var(--ok)}.bad{color:var(--bad);font-weight:600}.path{color:var(--mute);margin:0}
#counts ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem}
#counts li{border:1px solid var(--line);border-radius:1rem;padding:0 .7rem}#counts a{text-decoration:none}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
td:nth-child(2){min-width:12rem}
thead th{position:sticky;top:0;background:var(--bg2)}
th button{font:inherit;font-weight:600;color:inherit;background:none;border:0;padding:0;cursor:pointer}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
tr.esc td:first-child{border-left:4px solid var(--warn)}
tbody tr:hover{background:var(--bg2)}
#controls{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;margin:.5rem 0}
select,input{font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:.3rem;padding:.15rem .3rem;max-width:100%}
#q{width:16rem}#shown{color:var(--mute)}
.st,.ci,.pri{display:inline-block;border-radius:.6rem;padding:0 .45rem;font-size:.8rem;border:1px solid var(--line);white-space:nowrap}
.st-ready,.st-completed,.ci-passing{color:var(--ok);border-color:currentColor}
.st-blocked,.ci-failing{color:var(--bad);border-color:currentColor}
.st-in_progress,.st-review,.ci-pending{color:var(--warn);border-color:currentColor}
.st-cancelled,.st-draft{color:var(--mute)}
.body{border-top:1px solid var(--line);margin-top:1rem;overflow-wrap:break-word}
.body pre{background:var(--bg2);padding:.6rem;overflow-x:auto}
.body li.task{list-style:none}.body li.task>input{margin:0 .4rem 0 -1.3rem}
@media (max-width:40rem){body{font-size:16px}header,main{padding:.4rem .6rem}#q{width:100%}#controls label{flex:1 1 45%}}
`;

/** The icon: without one the browser asks for /favicon.ico and logs the 404; a data: URL would break a strict CSP. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1a7f37"/><path d="M4 8.5l2.5 2.5L12 5" fill="none" stroke="#fff" stroke-width="2"/></svg>
`;

/**
 * The client script: filters, search and sort kept in the URL without reloading; ages refreshed
 * every 5 s from data attributes; over http only, live updates from server-sent events on
 * /api/events (no polling). No inline handlers, so a strict CSP works. Plain ES2019, no build step.
 */
export const APP_JS = String.raw`(function () {
'use strict';
var d = document, REGIONS = ['#health', '#counts', '#escalations', '#ready', '#claims', '#errors', '#tasks tbody'];
var FILTERS = ['status', 'priority', 'milestone', 'owner'];
var coll = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
var st = { f: {}, q: '', sort: '' }, rows = [], texts = new WeakMap(), bodies = null, loading = false, sorted = '';
var served = {}, HTTP = /^https?:$/.test(location.protocol);
function $(id) { return d.getElementById(id); }
function table() { return $('tasks'); }

function readUrl() {
  var p = new URLSearchParams(location.search);
  FILTERS.forEach((f) => { st.f[f] = p.get(f) || ''; });
  st.q = p.get('q') || ''; st.sort = p.get('sort') || '';
}
function writeUrl() {
  var p = new URLSearchParams(location.search);
  FILTERS.forEach((f) => { if (st.f[f]) p.set(f, st.f[f]); else p.delete(f); });
  if (st.q) p.set('q', st.q); else p.delete('q');
  if (st.sort) p.set('sort', st.sort); else p.delete('sort');
  var s = p.toString();
  try { history.replaceState(null, '', s ? '?' + s : location.pathname); } catch (e) { /* some file:// views refuse; the view still applies */ }
}
function syncControls() {
  FILTERS.forEach(function (f) {
    var s = $('f-' + f); if (!s) return;
    if (st.f[f] && ![].some.call(s.options, (o) => o.value === st.f[f])) s.add(new Option(st.f[f], st.f[f]));
    s.value = st.f[f];
  });
  var q = $('q'); if (q && q.value !== st.q) q.value = st.q;
  var t = table(); if (!t) return;
  var key = st.sort.replace(/^-/, '');
  [].forEach.call(t.tHead.rows[0].cells, (th) => {
    if (th.dataset.sort === key) th.setAttribute('aria-sort', st.sort[0] === '-' ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
  });
}

function initRows() { var t = table(); rows = t ? [].slice.call(t.tBodies[0].rows) : []; sorted = ''; }
function text(r) {
  var s = texts.get(r);
  if (s === undefined) { s = (r.dataset.id + ' ' + r.cells[1].textContent).toLowerCase(); texts.set(r, s); }
  return s;
}
function loadBodies() {
  if (loading || bodies || !st.q) return;
  // Under file:// the browser refuses the fetch (and logs an error): search titles only.
  if (!HTTP) { bodies = false; return; }
  loading = true;
  fetch(new URL('search.json', location.href).href, { cache: 'no-store' })
    .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then((j) => { bodies = j; apply(); })
    .catch(() => { bodies = false; /* offline: titles only */ })
    .then(() => { loading = false; });
}

var KEYS = {
  id: (r) => r.dataset.id,
  title: (r) => r.cells[1].textContent,
  status: (r) => +r.dataset.statusRank,
  priority: (r) => +r.dataset.priorityRank,
  milestone: (r) => r.dataset.milestone,
  owner: (r) => r.dataset.owner,
  ci: (r) => r.dataset.ci,
  progress: (r) => (+r.dataset.total ? r.dataset.done / r.dataset.total : -1)
};
function cmp(a, b) {
  if (typeof a === 'number') return a - b;
  if (a === '' || b === '') return (a === '') - (b === '');
  return coll.compare(a, b);
}
function sortRows() {
  if (sorted === st.sort) return;
  var t = table(); if (!t) return;
  var desc = st.sort[0] === '-', key = KEYS[st.sort.replace(/^-/, '')], list = rows;
  if (key) {
    list = rows.map((r, i) => [key(r), i, r]);
    list.sort((a, b) => (desc ? -cmp(a[0], b[0]) : cmp(a[0], b[0])) || a[1] - b[1]);
    list = list.map((x) => x[2]);
  }
  var frag = d.createDocumentFragment();
  list.forEach((r) => frag.appendChild(r));
  t.tBodies[0].appendChild(frag);
  sorted = st.sort;
}

function apply() {
  if (!table()) return;
  var q = st.q.trim().toLowerCase(), n = 0;
  if (q && bodies === null) loadBodies();
  rows.forEach((r) => {
    var ok = FILTERS.every((f) => {
      var want = st.f[f], has = r.dataset[f];
      return !want || (want === '-' ? has === '' : has === want);
    });
    if (ok && q) ok = text(r).indexOf(q) >= 0 || !!(bodies && (bodies[r.dataset.slug] || '').indexOf(q) >= 0);
    if (r.hidden === ok) r.hidden = !ok;
    if (ok) n++;
  });
  sortRows(); syncControls();
  var out = $('shown'); if (out) out.textContent = n === rows.length ? n + ' tasks' : n + ' of ' + rows.length + ' tasks';
}
function change() { writeUrl(); apply(); }

function rel(ms) {
  var s = Math.round(Math.abs(ms) / 1000);
  var t = s < 90 ? s + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : s < 172800 ? (s / 3600).toFixed(1) + ' h' : Math.round(s / 86400) + ' d';
  return ms > 0 ? 'in ' + t : t + ' ago';
}
function ages() {
  var now = Date.now();
  d.querySelectorAll('time[data-rel]').forEach((el) => {
    var at = Date.parse(el.getAttribute('datetime'));
    if (!isNaN(at)) el.textContent = rel(at - now);
  });
  var h = $('health'); if (!h) return;
  var at = Date.parse(h.dataset.tickAt || ''), iv = +h.dataset.interval;
  var stale = !isNaN(at) && iv > 0 && now - at > 3 * iv * 1000;
  h.classList.toggle('warn', stale || h.dataset.running !== '1');
  var m = h.querySelector('.stale'); if (m) m.hidden = !stale;
}

function status(msg) { var l = $('live'); if (l) l.textContent = msg; }
function regions() { return d.querySelector('main[data-task-id]') ? ['main'] : REGIONS.concat(FILTERS.map((f) => '#f-' + f)); }
function remember(doc) { regions().forEach((s) => { var el = doc.querySelector(s); served[s] = el ? el.outerHTML : ''; }); }
function swap(doc) {
  var x = scrollX, y = scrollY, act = d.activeElement, actId = act && act.id, rowsChanged = false;
  regions().forEach(function (s) {
    var a = d.querySelector(s), b = doc.querySelector(s);
    if (!a || !b || served[s] === b.outerHTML) return;
    served[s] = b.outerHTML;
    if (s.indexOf('#f-') === 0) { a.innerHTML = b.innerHTML; return; }
    a.replaceWith(d.importNode(b, true));
    if (s === '#tasks tbody') rowsChanged = true;
  });
  if (doc.title) d.title = doc.title;
  if (rowsChanged) { initRows(); bodies = null; }
  apply(); ages();
  scrollTo(x, y);
  if (act && !d.contains(act) && actId && $(actId)) $(actId).focus();
}
var busy = false, again = false;
function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  fetch(location.href, { cache: 'no-store' })
    .then(function (r) {
      if (r.status === 404) { status('this page no longer exists'); return null; }
      if (!r.ok) throw new Error(r.status);
      return r.text();
    })
    .then(function (html) { if (html !== null) { swap(new DOMParser().parseFromString(html, 'text/html')); status('live'); } })
    .catch(function () { status('update failed; waiting for the next change'); })
    .then(function () { busy = false; if (again) { again = false; refresh(); } });
}

function init() {
  readUrl(); remember(d); initRows();
  FILTERS.forEach(function (f) {
    var s = $('f-' + f); if (s) s.addEventListener('change', function () { st.f[f] = s.value; change(); });
  });
  var q = $('q');
  if (q) q.addEventListener('input', function () { st.q = q.value; change(); });
  var form = $('controls'); if (form) form.addEventListener('submit', function (e) { e.preventDefault(); });
  d.addEventListener('click', function (e) {
    var th = e.target.closest && e.target.closest('#tasks th[data-sort]');
    if (th) { var k = th.dataset.sort; st.sort = st.sort === k ? '-' + k : st.sort === '-' + k ? '' : k; change(); return; }
    var a = e.target.closest && e.target.closest('#counts a[data-status]');
    if (a && table() && !e.ctrlKey && !e.metaKey && !e.shiftKey) { e.preventDefault(); st.f.status = a.dataset.status; change(); }
  });
  d.addEventListener('keydown', function (e) {
    var tag = e.target.tagName;
    if (e.key === '/' && q && !e.ctrlKey && !e.metaKey && !e.altKey && tag !== 'INPUT' && tag !== 'TEXTAREA' && tag !== 'SELECT' && !e.target.isContentEditable) {
      e.preventDefault(); q.focus(); q.select();
    }
  });
  apply(); ages();
  setInterval(ages, 5000);
  if (HTTP && window.EventSource) {
    var es = new EventSource('/api/events');
    es.addEventListener('change', refresh);
    // hello opens every (re)connection: a change may have landed between this page's load and now.
    es.addEventListener('hello', refresh);
    es.addEventListener('open', function () { status('live'); });
    es.addEventListener('error', function () { status('reconnecting…'); });
  }
}
if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', init); else init();
})();
`.replace(/^[ \t]+/gm, ''); // indentation is a tenth of the file; no line of it starts inside a string
