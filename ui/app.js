// The rustfaas portal: one page over the gateway's REST API (the same calls faas-cli makes),
// signed in with a session cookie (POST /ui/login) or the browser's basic auth. Charts read
// GET /system/metrics/history; uPlot draws them. No build step, no outside fetch.
'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;

const state = {
  session: null, // {user, csrf, auth}
  namespace: localStorage.getItem('rustfaas.namespace') || 'openfaas-fn',
  functions: [],
  history: new Map(), // name -> overview series (5m)
  sort: { key: 'name', dir: 1 },
  filter: '',
  route: { view: 'overview' },
  window: '15m',
  source: 'gateway', // or 'prometheus', when the gateway has one configured
  charts: {},
  logs: { abort: null, lines: [], paused: false, pending: [], instances: new Set() },
  timer: null,
  secrets: [],
  deadOffset: 0, // the dead-letter page shown
};
// For tests and the curious: the live state and charts.
window.portal = state;

// ---------- helpers ----------

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function show(id, visible) { $(id).hidden = !visible; }

function notice(text) {
  const el = $('notice');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function fail(err) {
  const el = $('error');
  el.textContent = err && err.message ? err.message : String(err);
  el.hidden = false;
  clearTimeout(fail.timer);
  fail.timer = setTimeout(() => { el.hidden = true; }, 8000);
}

class ApiError extends Error {
  constructor(status, text) {
    super(`${status}: ${text.trim() || 'request failed'}`);
    this.status = status;
  }
}

// Every API call: JSON in and out, the CSRF token on changes, sign-in shown on 401.
async function api(method, path, body, options = {}) {
  // X-Requested-With: a 401 then comes without WWW-Authenticate (no browser prompt).
  const headers = { 'X-Requested-With': 'rustfaas-portal' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.session && state.session.csrf) headers['X-CSRF-Token'] = state.session.csrf;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    signal: options.signal,
  });
  if (response.status === 401) {
    signedOut();
    throw new ApiError(401, 'signed out: sign in again');
  }
  if (!response.ok) throw new ApiError(response.status, await response.text());
  if (options.raw) return response;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

const nsQuery = () => `namespace=${encodeURIComponent(state.namespace)}`;

function parsePairs(text, separator) {
  const out = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.indexOf(separator);
    if (at < 1) throw new Error(`"${trimmed}": write one ${separator === '=' ? 'key=value' : 'Name: value'} a line`);
    out[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return out;
}

function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value >= 100) return Math.round(value).toString();
  return value.toFixed(digits);
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10000 ? 0 : 1)} s`;
  return `${ms >= 10 ? Math.round(ms) : ms.toFixed(1)} ms`;
}

// ---------- numbers from the history ----------

// Totals over the last `points` points of a series object from /system/metrics/history.
function recent(series, points) {
  const r = series.requests;
  const n = r['2xx'].length;
  let total = 0, errors = 0, p50 = null, p99 = null;
  for (let i = Math.max(0, n - points); i < n; i++) {
    const all = r['2xx'][i] + r['3xx'][i] + r['4xx'][i] + r['5xx'][i];
    total += all;
    errors += r['5xx'][i];
    const l50 = series.latency_ms.p50[i], l99 = series.latency_ms.p99[i];
    if (l50 !== null) p50 = l50;
    if (l99 !== null) p99 = l99;
  }
  const seconds = Math.min(points, n) * series.step;
  return { total, errors, rps: seconds ? total / seconds : 0, errorRate: total ? errors / total : 0, p50, p99 };
}

function perPoint(series) {
  const r = series.requests;
  const rps = [], err = [], p99 = [];
  for (let i = 0; i < r['2xx'].length; i++) {
    const all = r['2xx'][i] + r['3xx'][i] + r['4xx'][i] + r['5xx'][i];
    rps.push(all / series.step);
    err.push(all ? (100 * r['5xx'][i]) / all : 0);
    p99.push(series.latency_ms.p99[i] === null ? 0 : series.latency_ms.p99[i]);
  }
  return { rps, err, p99 };
}

// Annotations a provider sets on a function's status (not part of its deployment): its
// replicas' restart count, the digest of what it runs, why limits or the sandbox fall short.
const RESTARTS = 'com.rustfaas.restarts', DIGEST = 'com.rustfaas.digest';
const PROVIDER_ANNOTATIONS = new Set([RESTARTS, DIGEST, 'com.rustfaas.sandbox', 'com.rustfaas.last-exit']);

// Restarts over the last `points` points of a series (null: the history has no column).
function recentRestarts(series, points) {
  if (!series || !Array.isArray(series.restarts)) return null;
  return series.restarts.slice(-points).reduce((a, b) => a + b, 0);
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

// The function's state in words, from readiness, the recent error rate and restarts: at zero,
// starting, scaling, failing, degraded or ready; `why` says which numbers made it so.
function describe(fn, series) {
  const desired = fn.replicas || 0, ready = fn.availableReplicas || 0;
  const last = series ? recent(series, 12) : null; // the last minute
  if (last && last.total >= 2 && last.errorRate >= 0.5) {
    return { word: 'failing', why: `${Math.round(last.errorRate * 100)}% of calls failed in the last minute` };
  }
  // Replicas that keep restarting (dying, or not becoming ready in time): 2 or more restarts
  // in the last 2 minutes, while wanted.
  const restarts = recentRestarts(series, 24);
  if (desired > 0 && restarts >= 2) {
    return { word: 'failing', why: `replicas restarted ${plural(restarts, 'time')} in the last 2 minutes` };
  }
  if (desired === 0 && ready === 0) return { word: 'at zero', why: 'no replicas: the next call starts one' };
  if (ready === 0) {
    const readyCol = series ? series.replicas.ready : [];
    const desiredCol = series ? series.replicas.desired : [];
    const n = readyCol.length;
    // Wanted and not ready for the last 30 s: failing to start.
    const stuck = n >= 6 && readyCol.slice(-6).every((v) => v === 0) && desiredCol.slice(-6).every((v) => v > 0);
    if (stuck) return { word: 'failing', why: 'no replica passed its health check in 30 s' };
    // Was serving, wanted ever since (not scaled to zero and back), and has had no ready
    // replica for the last 10 s: its health checks fail.
    const lastReady = readyCol.findLastIndex((v) => v > 0);
    const lost = lastReady >= 0 && n - 1 - lastReady >= 2
      && desiredCol.slice(lastReady).every((v) => v > 0) && readyCol.slice(lastReady + 1).every((v) => v === 0);
    if (lost) return { word: 'failing', why: 'its replicas stopped passing their health checks' };
    return { word: 'starting', why: 'waiting for a replica to become ready' };
  }
  if (ready !== desired) return { word: 'scaling', why: `${ready} of ${desired} replicas ready` };
  if (last && last.total >= 2 && last.errorRate >= 0.05) {
    return { word: 'degraded', why: `${Math.round(last.errorRate * 100)}% of calls failed in the last minute` };
  }
  if (restarts === 1) return { word: 'degraded', why: 'a replica restarted in the last 2 minutes' };
  return { word: 'ready', why: `${plural(ready, 'replica')} ready` };
}

function sparkline(values, label) {
  const w = 72, h = 20;
  const max = Math.max(...values, 0);
  if (!values.length) return '';
  const step = w / Math.max(values.length - 1, 1);
  let d = '';
  values.forEach((v, i) => {
    const y = max ? h - 1 - ((h - 2) * v) / max : h - 1;
    d += `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${y.toFixed(1)}`;
  });
  return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${escapeHtml(label)}"><path d="${d}"/></svg>`;
}

// ---------- sign-in ----------

async function loadSession() {
  const response = await fetch('/ui/session', { credentials: 'same-origin' });
  const session = await response.json();
  if (session.auth === 'none') return null;
  return session;
}

function signedOut() {
  state.session = null;
  stopLogs();
  clearInterval(state.timer);
  for (const id of ['nav', 'namespace-box', 'deploy-open', 'who', 'logout']) show(id, false);
  showView('login-view');
  $('login-password').focus();
}

async function signedIn(session) {
  state.session = session;
  for (const id of ['nav', 'namespace-box', 'deploy-open']) show(id, true);
  show('who', !!session.user);
  $('who').textContent = session.user || '';
  show('logout', session.auth === 'session');
  show('source-toggle', !!session.prometheus);
  await loadNamespaces();
  route();
  clearInterval(state.timer);
  state.timer = setInterval(() => refresh().catch(() => {}), POLL_MS);
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  show('login-error', false);
  try {
    const response = await fetch('/ui/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: $('login-user').value, password: $('login-password').value }),
      credentials: 'same-origin',
    });
    if (!response.ok) throw new Error(response.status === 429 ? 'Too many failed sign-ins: wait a minute.' : 'Wrong user or password.');
    const body = await response.json();
    $('login-password').value = '';
    await signedIn({ user: body.user, csrf: body.csrf, auth: 'session' });
  } catch (err) {
    $('login-error').textContent = err.message;
    show('login-error', true);
  }
});

$('logout').addEventListener('click', async () => {
  await fetch('/ui/logout', { method: 'POST', credentials: 'same-origin' });
  signedOut();
});

// ---------- routing ----------

const VIEWS = ['login-view', 'overview-view', 'function-view', 'store-view', 'secrets-view', 'namespaces-view', 'queue-view'];

function showView(id) {
  for (const view of VIEWS) show(view, view === id);
  document.querySelectorAll('#nav a').forEach((a) => {
    const here = location.hash.replace(/^#/, '') || '/';
    a.setAttribute('aria-current', a.getAttribute('href').slice(1) === here ? 'page' : 'false');
  });
}

function route() {
  if (!state.session) return;
  stopLogs();
  const hash = location.hash.replace(/^#\/?/, '');
  const [view, ...rest] = hash.split('/');
  if (view === 'fn' && rest.length >= 2) {
    state.namespace = decodeURIComponent(rest[0]);
    state.route = { view: 'function', name: decodeURIComponent(rest[1]) };
    showView('function-view');
    openFunction().catch(fail);
    return;
  }
  const views = { store: 'store-view', secrets: 'secrets-view', namespaces: 'namespaces-view', queue: 'queue-view' };
  state.route = { view: views[view] ? view : 'overview' };
  showView(views[view] || 'overview-view');
  refresh().catch(fail);
}

window.addEventListener('hashchange', route);

async function refresh() {
  switch (state.route.view) {
    case 'overview': return refreshOverview();
    case 'function': return refreshFunction();
    case 'store': return loadStore();
    case 'secrets': return loadSecrets();
    case 'namespaces': return loadNamespaces();
    case 'queue': return loadQueue();
    default: return undefined;
  }
}

// ---------- namespaces ----------

async function loadNamespaces() {
  let names = await api('GET', '/system/namespaces');
  names = names && names.length ? names : ['openfaas-fn'];
  if (!names.includes(state.namespace)) state.namespace = names[0];
  const select = $('namespace');
  const options = names.map((n) => `<option${n === state.namespace ? ' selected' : ''}>${escapeHtml(n)}</option>`).join('');
  if (select.innerHTML !== options) select.innerHTML = options;
  if (state.route.view === 'namespaces') {
    $('namespaces').tBodies[0].innerHTML = names.map((n) => `<tr data-name="${escapeHtml(n)}"><td>${escapeHtml(n)}</td>
      <td class="actions"><button type="button" class="danger" data-delete-namespace="${escapeHtml(n)}">Delete</button></td></tr>`).join('');
  }
}

$('namespace').addEventListener('change', () => {
  state.namespace = $('namespace').value;
  localStorage.setItem('rustfaas.namespace', state.namespace);
  state.functions = [];
  state.history = new Map();
  if (state.route.view === 'function') location.hash = '#/';
  else refresh().catch(fail);
});

$('namespace-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('namespace-name').value.trim();
  try {
    await api('POST', `/system/namespace/${encodeURIComponent(name)}`, { name });
    $('namespace-name').value = '';
    notice(`Namespace ${name} created`);
    await loadNamespaces();
  } catch (err) { fail(err); }
});

$('namespaces').addEventListener('click', async (event) => {
  const name = event.target.dataset.deleteNamespace;
  if (!name) return;
  if (!(await confirmDialog(`Delete namespace ${name}?`))) return;
  try {
    await api('DELETE', `/system/namespace/${encodeURIComponent(name)}`, { name });
    notice(`Namespace ${name} deleted`);
    await loadNamespaces();
  } catch (err) { fail(err); }
});

// ---------- overview ----------

async function refreshOverview() {
  const [functions, history] = await Promise.all([
    api('GET', `/system/functions?${nsQuery()}`),
    api('GET', `/system/metrics/history?${nsQuery()}&window=5m`).catch(() => ({ functions: [] })),
  ]);
  state.functions = functions || [];
  state.history = new Map(history.functions.map((f) => [f.name, f]));
  renderOverview();
}

function overviewRows() {
  return state.functions.map((fn) => {
    const series = state.history.get(fn.name);
    const last = series ? recent(series, 6) : { rps: 0, errorRate: 0, p50: null, p99: null };
    const spark = series ? perPoint(series) : { rps: [], err: [], p99: [] };
    const status = describe(fn, series);
    return { fn, last, spark, status };
  });
}

const SORT_KEYS = {
  name: (r) => r.fn.name,
  state: (r) => r.status.word,
  replicas: (r) => r.fn.availableReplicas || 0,
  rps: (r) => r.last.rps,
  errors: (r) => r.last.errorRate,
  p50: (r) => (r.last.p50 === null ? -1 : r.last.p50),
  p99: (r) => (r.last.p99 === null ? -1 : r.last.p99),
  invocations: (r) => r.fn.invocationCount || 0,
};

function renderOverview() {
  const filter = state.filter.toLowerCase();
  let rows = overviewRows();
  if (filter) {
    rows = rows.filter((r) => r.fn.name.includes(filter) || (r.fn.image || '').toLowerCase().includes(filter) || r.status.word.includes(filter));
  }
  const key = SORT_KEYS[state.sort.key];
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    return (x < y ? -1 : x > y ? 1 : 0) * state.sort.dir || a.fn.name.localeCompare(b.fn.name);
  });
  const ns = encodeURIComponent(state.namespace);
  $('functions').tBodies[0].innerHTML = rows.map(({ fn, last, spark, status }) => {
    const name = escapeHtml(fn.name);
    return `<tr data-name="${name}" data-state="${status.word}">
      <td><a href="#/fn/${ns}/${encodeURIComponent(fn.name)}">${name}</a><div class="muted small">${escapeHtml(fn.image || '')}</div></td>
      <td><span class="state state-${status.word.replace(' ', '-')}" title="${escapeHtml(status.why)}">${status.word}</span></td>
      <td class="num">${fn.availableReplicas || 0}/${fn.replicas || 0}</td>
      <td class="num">${fmt(last.rps, 2)} ${sparkline(spark.rps, 'requests per second, last 5 minutes')}</td>
      <td class="num">${fmt(100 * last.errorRate)}% ${sparkline(spark.err, 'error percentage, last 5 minutes')}</td>
      <td class="num wide">${fmtMs(last.p50)}</td>
      <td class="num">${fmtMs(last.p99)} ${sparkline(spark.p99, 'p99 latency, last 5 minutes')}</td>
      <td class="num wide">${Math.round(fn.invocationCount || 0)}</td>
    </tr>`;
  }).join('');
  show('empty', state.functions.length === 0);
  $('summary').textContent = `${rows.length} of ${state.functions.length} in ${state.namespace}`;
  document.querySelectorAll('#functions th').forEach((th) => {
    const button = th.querySelector('button');
    th.setAttribute('aria-sort', button.dataset.sort === state.sort.key ? (state.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
  });
  document.body.dataset.ready = 'true';
  // When the first table was drawn, in ms since navigation (the browser test reads it).
  if (!state.firstRender) state.firstRender = performance.now();
}

$('functions').tHead.addEventListener('click', (event) => {
  const key = event.target.dataset.sort;
  if (!key) return;
  state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : key === 'name' || key === 'state' ? 1 : -1 };
  renderOverview();
});

$('filter').addEventListener('input', () => {
  state.filter = $('filter').value.trim();
  renderOverview();
});

// ---------- a function's page ----------

const SERIES_COLORS = { '2xx': '#2e7d32', '3xx': '#1565c0', '4xx': '#ef6c00', '5xx': '#c62828' };

function chartWidth(el) {
  return Math.max(240, el.clientWidth || el.parentElement.clientWidth || 320);
}

// The indices of values with no value on either side.
function lonePoints(u, seriesIndex) {
  const d = u.data[seriesIndex];
  const lone = [];
  for (let i = 0; i < d.length; i++) {
    if (d[i] !== null && (i === 0 || d[i - 1] === null) && (i === d.length - 1 || d[i + 1] === null)) lone.push(i);
  }
  return lone;
}

function makeChart(id, series, scales, axes) {
  const el = $(id);
  el.textContent = '';
  const chart = new uPlot({
    width: chartWidth(el),
    height: 180,
    // A lone value between gaps (one busy 5 s) has no line: draw it as a point.
    series: [{}, ...series.map((s) => ({ points: { show: true, size: 5, filter: lonePoints }, ...s }))],
    scales: scales || {},
    axes: axes || [{}, { size: 50 }],
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
  }, [[], ...series.map(() => [])], el);
  state.charts[id.replace('chart-', '')] = chart;
  return chart;
}

function buildCharts() {
  for (const chart of Object.values(state.charts)) chart.destroy();
  state.charts = {};
  makeChart('chart-rps', Object.entries(SERIES_COLORS).map(([label, stroke]) => ({ label, stroke, width: 1.5, fill: `${stroke}22` })));
  makeChart('chart-latency', [
    { label: 'p50', stroke: '#1565c0', width: 1.5, spanGaps: false },
    { label: 'p95', stroke: '#6a1b9a', width: 1.5 },
    { label: 'p99', stroke: '#c62828', width: 1.5 },
  ]);
  makeChart('chart-replicas', [
    { label: 'desired', stroke: '#555', width: 1.5, dash: [4, 4] },
    { label: 'ready', stroke: '#2e7d32', width: 2 },
    { label: 'cold starts', stroke: '#ef6c00', width: 1, paths: uPlot.paths.bars({ size: [0.6] }), fill: '#ef6c0066' },
    { label: 'restarts', stroke: '#c62828', width: 1, paths: uPlot.paths.bars({ size: [0.3] }), fill: '#c6282866' },
  ]);
  makeChart('chart-usage', [
    { label: 'CPU (cores)', stroke: '#1565c0', width: 1.5, scale: 'cpu' },
    { label: 'memory (MiB)', stroke: '#6a1b9a', width: 1.5, scale: 'mem' },
  ], { cpu: { auto: true }, mem: { auto: true } }, [{}, { scale: 'cpu', size: 50 }, { scale: 'mem', side: 1, size: 50, grid: { show: false } }]);
}

function fillCharts(series) {
  const n = series.requests['2xx'].length;
  const time = Array.from({ length: n }, (_, i) => series.start + i * series.step);
  const rate = (col) => col.map((v) => v / series.step);
  state.charts.rps.setData([time, ...['2xx', '3xx', '4xx', '5xx'].map((c) => rate(series.requests[c]))]);
  state.charts.latency.setData([time, series.latency_ms.p50, series.latency_ms.p95, series.latency_ms.p99]);
  // A Prometheus source has no restarts column.
  const restarts = series.restarts || time.map(() => null);
  state.charts.replicas.setData([time, series.replicas.desired, series.replicas.ready, series.cold_starts, restarts]);
  const mem = series.memory_bytes.map((v) => (v === null ? null : v / 1048576));
  state.charts.usage.setData([time, series.cpu, mem]);
  show('usage-none', series.cpu.every((v) => v === null));
  const total = series.requests['2xx'].concat(series.requests['3xx'], series.requests['4xx'], series.requests['5xx']).reduce((a, b) => a + b, 0);
  $('chart-rps').dataset.total = String(total);
}

async function openFunction() {
  buildCharts();
  $('invoke-result').hidden = true;
  state.logs.lines = [];
  state.logs.instances = new Set();
  $('logs-instance').innerHTML = '<option value="">all</option>';
  $('logs-output').textContent = '';
  await refreshFunction(true);
  startLogs();
}

function detailRows(fn) {
  const rows = [];
  const add = (term, value) => rows.push(`<dt>${escapeHtml(term)}</dt><dd>${value}</dd>`);
  const pairs = (map, mask) => {
    const keys = Object.keys(map || {}).sort();
    if (!keys.length) return '<span class="muted">none</span>';
    return `<ul class="pairs">${keys.map((k) => `<li><code>${escapeHtml(k)}</code> = <code>${mask(k) ? '••••••' : escapeHtml(map[k])}</code></li>`).join('')}</ul>`;
  };
  const sensitive = (key) => /secret|password|passwd|token|api[-_]?key|private|credential/i.test(key);
  const annotations = fn.annotations || {};
  add('Image or package', `<code id="fn-image">${escapeHtml(fn.image || '')}</code>`);
  add('Digest', annotations[DIGEST]
    ? `<code id="fn-digest" class="digest">${escapeHtml(annotations[DIGEST])}</code>`
    : '<span class="muted">not reported by this runtime</span>');
  if (annotations[RESTARTS] !== undefined) add('Restarts', `<span id="fn-restarts">${escapeHtml(annotations[RESTARTS])}</span> <span class="muted">(of the replicas running now)</span>`);
  if (fn.envProcess) add('fprocess', `<code>${escapeHtml(fn.envProcess)}</code>`);
  add('Created', escapeHtml(fn.createdAt || '–'));
  add('Invocations', String(Math.round(fn.invocationCount || 0)));
  const labels = fn.labels || {};
  const scaling = Object.keys(labels).filter((k) => k.startsWith('com.openfaas.scale.'));
  add('Scaling', scaling.length
    ? `<ul class="pairs">${scaling.sort().map((k) => `<li><code>${escapeHtml(k.slice(19))}</code> = <code>${escapeHtml(labels[k])}</code></li>`).join('')}</ul>`
    : '<span class="muted">not autoscaled: keeps the replica count it is given</span>');
  add('Labels', pairs(labels, () => false));
  const own = Object.fromEntries(Object.entries(annotations).filter(([k]) => k !== RESTARTS && k !== DIGEST));
  add('Annotations', pairs(own, () => false));
  add('Environment', pairs(fn.envVars, sensitive));
  add('Secrets', (fn.secrets || []).length ? fn.secrets.map((s) => `<code>${escapeHtml(s)}</code>`).join(' ') : '<span class="muted">none</span>');
  const limits = fn.limits || {};
  add('Limits', limits.memory || limits.cpu ? `memory ${escapeHtml(limits.memory || '–')}, cpu ${escapeHtml(limits.cpu || '–')}` : '<span class="muted">none</span>');
  return rows.join('');
}

async function refreshFunction(first) {
  const { name } = state.route;
  const q = `${nsQuery()}`;
  const [fn, series] = await Promise.all([
    api('GET', `/system/function/${encodeURIComponent(name)}?${q}`),
    api('GET', `/system/metrics/history?${q}&function=${encodeURIComponent(name)}&window=${state.window}&source=${state.source}`)
      .catch((err) => { if (state.source === 'prometheus') fail(err); return null; }),
  ]);
  if (state.route.view !== 'function' || state.route.name !== name) return;
  state.fn = fn;
  const status = describe(fn, series);
  $('fn-name').textContent = name;
  const word = $('fn-state');
  word.textContent = status.word;
  word.title = status.why;
  word.className = `state state-${status.word.replace(' ', '-')}`;
  document.body.dataset.fnState = status.word;
  const why = status.word === 'ready' ? '' : ` · ${status.why}`;
  $('fn-replicas').textContent = `${fn.availableReplicas || 0}/${fn.replicas || 0} replicas ready${why}`;
  if (series) {
    fillCharts(series);
    const decisions = (series.decisions || []).slice().reverse();
    const html = decisions.length
      ? decisions.map((d) => `<li><time>${escapeHtml(new Date(d.time * 1000).toLocaleTimeString())}</time> ${d.from} → ${d.to}: ${escapeHtml(d.reason)}</li>`).join('')
      : '<li class="muted">none yet (only functions with com.openfaas.scale.* labels are autoscaled)</li>';
    if ($('fn-decisions').innerHTML !== html) $('fn-decisions').innerHTML = html;
  }
  const details = detailRows(fn);
  if ($('fn-details').innerHTML !== details) $('fn-details').innerHTML = details;
  if (first) {
    const target = state.namespace === 'openfaas-fn' ? name : `${name}.${state.namespace}`;
    const url = `${location.origin}/function/${target}`;
    $('fn-curl').textContent = `curl -d 'hello' ${url}`;
    $('fn-cli').textContent = `echo 'hello' | faas-cli invoke ${name} --gateway ${location.origin}${state.namespace === 'openfaas-fn' ? '' : ` --namespace ${state.namespace}`}`;
    document.body.dataset.fnLoaded = name;
  }
}

document.querySelectorAll('[data-window]').forEach((button) => button.addEventListener('click', () => {
  state.window = button.dataset.window;
  document.querySelectorAll('[data-window]').forEach((b) => b.setAttribute('aria-pressed', String(b === button)));
  refreshFunction().catch(fail);
}));

document.querySelectorAll('[data-source]').forEach((button) => button.addEventListener('click', () => {
  state.source = button.dataset.source;
  document.querySelectorAll('[data-source]').forEach((b) => b.setAttribute('aria-pressed', String(b === button)));
  refreshFunction().catch(fail);
}));

window.addEventListener('resize', () => {
  for (const [key, chart] of Object.entries(state.charts)) chart.setSize({ width: chartWidth($(`chart-${key}`)), height: 180 });
});

document.addEventListener('click', async (event) => {
  const id = event.target.dataset && event.target.dataset.copy;
  if (!id) return;
  try {
    await navigator.clipboard.writeText($(id).textContent);
    notice('Copied');
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents($(id));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  }
});

// ---------- confirmations ----------

function confirmDialog(text, input) {
  const dialog = $('confirm-dialog');
  $('confirm-text').textContent = text;
  show('confirm-input-box', !!input);
  if (input) {
    $('confirm-input-label').textContent = input.label;
    $('confirm-input').value = input.value;
  }
  dialog.returnValue = '';
  dialog.showModal();
  (input ? $('confirm-input') : $('confirm-ok')).focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (dialog.returnValue !== 'ok') resolve(input ? null : false);
      else resolve(input ? $('confirm-input').value : true);
    }, { once: true });
  });
}

$('fn-scale').addEventListener('click', async () => {
  const name = state.route.name;
  const value = await confirmDialog(`Scale ${name} to how many replicas?`, { label: 'Replicas', value: state.fn ? state.fn.replicas : 1 });
  if (value === null || value === '') return;
  const replicas = Number(value);
  if (!Number.isInteger(replicas) || replicas < 0) return fail('Replicas: a whole number, 0 or more');
  try {
    await api('POST', `/system/scale-function/${encodeURIComponent(name)}?${nsQuery()}`, { serviceName: name, replicas, namespace: state.namespace });
    notice(`${name} scaled to ${replicas}`);
    await refreshFunction();
  } catch (err) { fail(err); }
});

$('fn-redeploy').addEventListener('click', async () => {
  const fn = state.fn;
  if (!fn || !(await confirmDialog(`Redeploy ${fn.name}? Its replicas are replaced.`))) return;
  try {
    await api('PUT', '/system/functions', deploymentOf(fn));
    notice(`${fn.name} redeployed`);
  } catch (err) { fail(err); }
});

$('fn-delete').addEventListener('click', async () => {
  const name = state.route.name;
  if (!(await confirmDialog(`Delete ${name}? Its replicas stop and its history is dropped.`))) return;
  try {
    await api('DELETE', '/system/functions', { functionName: name, namespace: state.namespace });
    notice(`${name} deleted`);
    location.hash = '#/';
  } catch (err) { fail(err); }
});

function deploymentOf(fn) {
  return {
    service: fn.name, image: fn.image, namespace: state.namespace, envProcess: fn.envProcess,
    envVars: fn.envVars, labels: fn.labels, secrets: fn.secrets,
    // Only the deployment's own annotations: not those the provider adds to the status.
    annotations: Object.fromEntries(Object.entries(fn.annotations || {}).filter(([k]) => !PROVIDER_ANNOTATIONS.has(k))),
    limits: fn.limits, requests: fn.requests, constraints: fn.constraints,
    readOnlyRootFilesystem: fn.readOnlyRootFilesystem,
  };
}

// ---------- invoke ----------

$('invoke').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = state.route.name;
  const target = state.namespace === 'openfaas-fn' ? name : `${name}.${state.namespace}`;
  let path = $('invoke-path').value.trim() || '/';
  if (!path.startsWith('/')) path = `/${path}`;
  const query = $('invoke-query').value.trim().replace(/^\?/, '');
  const method = $('invoke-method').value;
  let headers;
  try { headers = parsePairs($('invoke-headers').value, ':'); } catch (err) { return fail(err); }
  const started = performance.now();
  $('invoke-status').textContent = 'calling…';
  $('invoke-result').hidden = false;
  try {
    const response = await fetch(`/function/${encodeURIComponent(target)}${path === '/' ? '' : path}${query ? `?${query}` : ''}`, {
      method, headers, body: method === 'GET' ? undefined : $('invoke-body').value,
    });
    const text = await response.text();
    const took = performance.now() - started;
    $('invoke-status').textContent = `${response.status} ${response.statusText}`.trim();
    $('invoke-time').textContent = `in ${fmtMs(took)}`;
    $('invoke-headers-out').textContent = [...response.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
    let pretty = text;
    if ((response.headers.get('content-type') || '').includes('json') || /^\s*[[{]/.test(text)) {
      try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON after all */ }
    }
    $('invoke-output').textContent = pretty;
  } catch (err) {
    $('invoke-status').textContent = `failed: ${err.message}`;
  }
});

// ---------- logs ----------

function stopLogs() {
  if (state.logs.abort) state.logs.abort.abort();
  state.logs.abort = null;
}

function logLineMatches(line) {
  const filter = $('logs-filter').value.toLowerCase();
  const instance = $('logs-instance').value;
  return (!instance || line.instance === instance) && (!filter || line.text.toLowerCase().includes(filter));
}

function renderLogs() {
  const out = $('logs-output');
  const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 20;
  out.textContent = state.logs.lines.filter(logLineMatches).map((l) => `${(l.timestamp || '').slice(11, 23)} ${l.instance || ''} ${l.text}`).join('\n');
  if (atBottom) out.scrollTop = out.scrollHeight;
}

function addLogLines(lines) {
  for (const line of lines) {
    state.logs.lines.push(line);
    if (line.instance && !state.logs.instances.has(line.instance)) {
      state.logs.instances.add(line.instance);
      const option = document.createElement('option');
      option.textContent = line.instance;
      $('logs-instance').append(option);
    }
  }
  if (state.logs.lines.length > 2000) state.logs.lines.splice(0, state.logs.lines.length - 2000);
  renderLogs();
}

async function startLogs() {
  stopLogs();
  const controller = new AbortController();
  state.logs.abort = controller;
  state.logs.lines = [];
  const follow = $('logs-follow').checked;
  const path = `/system/logs?name=${encodeURIComponent(state.route.name)}&${nsQuery()}&tail=200&follow=${follow}`;
  try {
    const response = await api('GET', path, undefined, { raw: true, signal: controller.signal });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      const parts = buffered.split('\n');
      buffered = parts.pop();
      const lines = parts.filter((p) => p.trim()).map((p) => { try { return JSON.parse(p); } catch (_) { return { text: p }; } });
      if (state.logs.paused) state.logs.pending.push(...lines);
      else addLogLines(lines);
    }
  } catch (err) {
    if (err.name !== 'AbortError') fail(err);
  }
}

$('logs-follow').addEventListener('change', () => startLogs());
$('logs-filter').addEventListener('input', renderLogs);
$('logs-instance').addEventListener('change', renderLogs);
$('logs-clear').addEventListener('click', () => { state.logs.lines = []; renderLogs(); });
$('logs-pause').addEventListener('click', () => {
  state.logs.paused = !state.logs.paused;
  $('logs-pause').setAttribute('aria-pressed', String(state.logs.paused));
  $('logs-pause').textContent = state.logs.paused ? 'Resume' : 'Pause';
  if (!state.logs.paused) {
    addLogLines(state.logs.pending);
    state.logs.pending = [];
  }
});

// ---------- deploy ----------

async function fillSecretChoices() {
  try {
    const secrets = (await api('GET', `/system/secrets?${nsQuery()}`)) || [];
    $('deploy-secrets').innerHTML = secrets.length
      ? secrets.map((s) => `<label class="check"><input type="checkbox" value="${escapeHtml(s.name)}"> ${escapeHtml(s.name)}</label>`).join('')
      : '<span class="muted">none in this namespace</span>';
  } catch (_) { /* the dialog still works without them */ }
}

$('deploy-open').addEventListener('click', () => {
  show('deploy-error', false);
  fillSecretChoices();
  $('deploy-dialog').showModal();
  $('deploy-name').focus();
});
$('deploy-cancel').addEventListener('click', () => $('deploy-dialog').close());

$('deploy').addEventListener('submit', async (event) => {
  event.preventDefault();
  show('deploy-error', false);
  try {
    const labels = parsePairs($('deploy-labels').value, '=');
    const min = $('deploy-min').value, max = $('deploy-max').value;
    if (min !== '') labels['com.openfaas.scale.min'] = min;
    if (max !== '') labels['com.openfaas.scale.max'] = max;
    if ($('deploy-zero').checked) labels['com.openfaas.scale.zero'] = 'true';
    const limits = {};
    if ($('deploy-memory').value.trim()) limits.memory = $('deploy-memory').value.trim();
    if ($('deploy-cpu').value.trim()) limits.cpu = $('deploy-cpu').value.trim();
    const name = $('deploy-name').value.trim();
    const body = {
      service: name,
      image: $('deploy-image').value.trim(),
      namespace: state.namespace,
      envProcess: $('deploy-fprocess').value.trim() || undefined,
      envVars: parsePairs($('deploy-env').value, '='),
      labels,
      annotations: parsePairs($('deploy-annotations').value, '='),
      secrets: [...document.querySelectorAll('#deploy-secrets input:checked')].map((i) => i.value),
      limits: Object.keys(limits).length ? limits : undefined,
    };
    await api('POST', '/system/functions', body);
    $('deploy-dialog').close();
    $('deploy').reset();
    notice(`${name} deployed`);
    if (state.route.view === 'overview') await refreshOverview();
    else location.hash = '#/';
  } catch (err) {
    $('deploy-error').textContent = err.message;
    show('deploy-error', true);
  }
});

// ---------- store ----------

async function loadStore() {
  if (state.store) return;
  const response = await fetch('store.json');
  state.store = (await response.json()).functions || [];
  $('store').innerHTML = state.store.map((f, i) => `<article class="card" data-name="${escapeHtml(f.name)}">
    <h2>${escapeHtml(f.title || f.name)}</h2>
    <p>${escapeHtml(f.description || '')}</p>
    ${f.package
      ? `<p class="muted small">Ships as a package: <code>faas-cli store deploy ${escapeHtml(f.name)}</code></p>`
      : `<button type="button" data-store="${i}">Deploy</button>`}
  </article>`).join('');
}

$('store').addEventListener('click', async (event) => {
  const index = event.target.dataset.store;
  if (index === undefined) return;
  const f = state.store[Number(index)];
  const images = f.images || {};
  try {
    await api('POST', '/system/functions', {
      service: f.name, image: images.x86_64 || f.image, namespace: state.namespace, envProcess: f.fprocess,
      envVars: f.environment, labels: f.labels, annotations: f.annotations, readOnlyRootFilesystem: f.readOnlyRootFilesystem,
    });
    notice(`${f.name} deployed from the store`);
    location.hash = `#/fn/${encodeURIComponent(state.namespace)}/${encodeURIComponent(f.name)}`;
  } catch (err) { fail(err); }
});

// ---------- secrets ----------

async function loadSecrets() {
  const secrets = (await api('GET', `/system/secrets?${nsQuery()}`)) || [];
  const body = $('secrets').tBodies[0];
  const html = secrets.map((s) => `<tr data-name="${escapeHtml(s.name)}"><td>${escapeHtml(s.name)}</td>
    <td class="actions"><button type="button" data-replace-secret="${escapeHtml(s.name)}">Replace value</button>
    <button type="button" class="danger" data-delete-secret="${escapeHtml(s.name)}">Delete</button></td></tr>`).join('');
  if (body.innerHTML !== html) body.innerHTML = html;
  state.secrets = secrets.map((s) => s.name);
  show('secrets-empty', secrets.length === 0);
}

$('secret-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('secret-name').value.trim();
  const value = $('secret-value').value;
  const exists = state.secrets.includes(name);
  try {
    await api(exists ? 'PUT' : 'POST', '/system/secrets', { name, value, namespace: state.namespace });
    $('secret-form').reset();
    notice(`Secret ${name} ${exists ? 'replaced' : 'created'}`);
    await loadSecrets();
  } catch (err) { fail(err); }
});

$('secrets').addEventListener('click', async (event) => {
  const { replaceSecret, deleteSecret } = event.target.dataset;
  if (replaceSecret) {
    $('secret-name').value = replaceSecret;
    $('secret-value').focus();
  } else if (deleteSecret) {
    if (!(await confirmDialog(`Delete secret ${deleteSecret}? Functions that use it stop finding it.`))) return;
    try {
      await api('DELETE', '/system/secrets', { name: deleteSecret, namespace: state.namespace });
      notice(`Secret ${deleteSecret} deleted`);
      await loadSecrets();
    } catch (err) { fail(err); }
  }
});

// ---------- queue ----------

// Dead letters are read a page at a time (the API's pages, 100 letters each), oldest first.
const DEAD_PAGE = 100;

async function loadQueue() {
  let letters, stats;
  const offset = state.deadOffset || 0;
  try {
    // One more than a page: whether a next page exists.
    [letters, stats] = await Promise.all([
      api('GET', `/system/queue/dead-letters?offset=${offset}&limit=${DEAD_PAGE + 1}`),
      api('GET', '/system/queue/stats'),
    ]);
  } catch (err) {
    $('queue-stats').textContent = err.status === 404 ? 'This gateway has no asynchronous queue.' : err.message;
    return;
  }
  $('queue-stats').textContent = Object.entries(stats || {}).map(([queue, s]) =>
    `${queue}: ${s.ready} ready, ${s.delayed} waiting to retry, ${s.leased} running, ${s.dead_letters} dead`).join(' · ') || 'No queues yet.';
  letters = letters || [];
  // A page emptied by discards or replays: back to the one before.
  if (!letters.length && offset > 0) {
    state.deadOffset = Math.max(0, offset - DEAD_PAGE);
    return loadQueue();
  }
  const more = letters.length > DEAD_PAGE;
  letters = letters.slice(0, DEAD_PAGE);
  const html = letters.map((d) => {
    const call = d.call || {};
    return `<tr data-id="${escapeHtml(call.id)}"><td>${escapeHtml(call.function)}.${escapeHtml(call.namespace)}<div class="muted small">${escapeHtml(call.method || '')} ${escapeHtml(call.path || '/')}</div></td>
      <td class="reason">${escapeHtml(d.reason)}</td><td class="wide">${escapeHtml(d.dead_at || '')}</td><td class="num wide">${escapeHtml(call.attempt)}</td>
      <td class="actions"><button type="button" data-replay="${escapeHtml(call.id)}">Replay</button>
      <button type="button" class="danger" data-discard="${escapeHtml(call.id)}">Discard</button></td></tr>`;
  }).join('');
  const body = $('dead-letters').tBodies[0];
  if (body.innerHTML !== html) body.innerHTML = html;
  const total = Object.values(stats || {}).reduce((sum, s) => sum + (s.dead_letters || 0), 0);
  $('dead-range').textContent = letters.length
    ? `${offset + 1}–${offset + letters.length} of ${Math.max(total, offset + letters.length)}`
    : '';
  $('dead-prev').disabled = offset === 0;
  $('dead-next').disabled = !more;
  show('dead-pager', offset > 0 || more);
  show('dead-empty', letters.length === 0);
}

$('dead-prev').addEventListener('click', () => {
  state.deadOffset = Math.max(0, (state.deadOffset || 0) - DEAD_PAGE);
  loadQueue().catch(fail);
});

$('dead-next').addEventListener('click', () => {
  state.deadOffset = (state.deadOffset || 0) + DEAD_PAGE;
  loadQueue().catch(fail);
});

$('dead-letters').addEventListener('click', async (event) => {
  const { replay, discard } = event.target.dataset;
  try {
    if (replay) {
      await api('POST', `/system/queue/dead-letters/${encodeURIComponent(replay)}/replay`);
      notice('Replayed: the call is queued again');
    } else if (discard) {
      if (!(await confirmDialog('Discard this call for good?'))) return;
      await api('DELETE', `/system/queue/dead-letters/${encodeURIComponent(discard)}`);
      notice('Discarded');
    } else return;
    await loadQueue();
  } catch (err) { fail(err); }
});

// ---------- start ----------

(async () => {
  try {
    const session = await loadSession();
    if (session) await signedIn(session);
    else signedOut();
  } catch (err) {
    fail(err);
  }
})();
