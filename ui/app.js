// The Conveyor dashboard: plain modern JavaScript, no build step, no library. Pages are routed by
// the URL's hash; every list and count is fetched once from the API and then kept current from
// GET /events (one EventSource per tab).
'use strict';

// What the pages can do, one entry per button: a route added to the API gets its button here and
// every page that shows that kind of object offers it when `when` holds. `body` (optional) makes
// the request's JSON body; `after` (optional) replaces the page's reload with the answer.
const ACTIONS = {
  queue: [
    { label: 'Pause', method: 'POST', path: (q) => `/queues/${enc(q.name)}/pause`, when: (q) => !q.paused },
    { label: 'Resume', method: 'POST', path: (q) => `/queues/${enc(q.name)}/resume`, when: (q) => q.paused },
  ],
  job: [
    { label: 'Cancel', method: 'POST', path: (j) => `/jobs/${j.id}/cancel`,
      when: (j) => j.status === 'pending' || j.status === 'processing',
      // 202: the job runs on until its attempt sees the request (the page shows it ending).
      said: (r) => (r.status === 202 ? 'Cancel: requested, the running attempt is being stopped' : 'Cancel: done') },
    { label: 'Retry', method: 'POST', path: (j) => `/jobs/${j.id}/retry`,
      when: (j) => j.status === 'failed' || j.status === 'cancelled' },
    // Gone afterwards: back to the list instead of reloading the job.
    { label: 'Delete', method: 'DELETE', path: (j) => `/jobs/${j.id}`,
      when: (j) => j.status !== 'processing', after: () => { location.hash = '#/jobs'; } },
  ],
  // A schedule is switched by storing it again with `enabled` changed (PUT takes the whole
  // schedule; its job as GET answered it is accepted as is).
  schedule: [
    { label: 'Disable', method: 'PUT', path: (s) => `/schedules/${enc(s.name)}`, when: (s) => s.enabled,
      body: (s) => ({ cron: s.cron, timezone: s.timezone, job: s.job, enabled: false }) },
    { label: 'Enable', method: 'PUT', path: (s) => `/schedules/${enc(s.name)}`, when: (s) => !s.enabled,
      body: (s) => ({ cron: s.cron, timezone: s.timezone, job: s.job, enabled: true }) },
    // To the job it enqueued (or, unique_key held, the job holding it), to watch it run.
    { label: 'Trigger', method: 'POST', path: (s) => `/schedules/${enc(s.name)}/trigger`, when: () => true,
      after: (r) => { location.hash = `#/jobs/${r.data.id}`; },
      said: (r) => (r.data && r.data.duplicate ? 'Trigger: its unique_key is held by this job' : 'Trigger: job enqueued') },
  ],
};

const STATUSES = ['pending', 'processing', 'done', 'failed', 'cancelled'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE_SIZE = 50;
const TOKEN_KEY = 'conveyor-token';
const enc = encodeURIComponent;

const app = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  events: null,          // the EventSource
  listeners: new Set(),  // functions of the current page called with each event
  finished: new Map(),   // minute (ms since epoch) -> jobs finished, from live events
  page: null,            // cleanup function of the current page
};

// --- DOM helpers: every text goes through textContent, never innerHTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const statusBadge = (s) => h('span', { class: `status ${s}` }, s);
const when = (ts) => (ts ? new Date(ts).toLocaleString() : '—');
function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

// --- The API, with the tab's token.
class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
async function api(method, path, body) {
  const headers = {};
  if (app.token) headers.Authorization = `Bearer ${app.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (r.status === 401) askToken();
  if (!r.ok) throw new ApiError(r.status, data && data.error && data.error.code, (data && data.error && data.error.message) || text);
  return { data, text, headers: r.headers, status: r.status };
}
function askToken(message) {
  document.getElementById('login').hidden = false;
  document.getElementById('login-error').textContent = message || (app.token ? 'that token was refused' : '');
}
document.getElementById('login').addEventListener('submit', (e) => {
  e.preventDefault();
  app.token = document.getElementById('token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, app.token);
  document.getElementById('login').hidden = true;
  connectEvents();
  route();
});

// --- Live events: one stream for the tab; the browser resumes it with Last-Event-ID itself.
function connectEvents() {
  if (app.events) app.events.close();
  const url = '/events' + (app.token ? `?access_token=${enc(app.token)}` : '');
  const es = new EventSource(url);
  app.events = es;
  const live = document.getElementById('live');
  es.onopen = () => { live.className = 'live on'; live.textContent = 'live'; };
  es.onerror = () => {
    live.className = 'live off';
    live.textContent = 'reconnecting';
    // A refused stream (401) is closed for good by the browser: ask for the token.
    if (es.readyState === EventSource.CLOSED) api('GET', '/queues').catch(() => {});
  };
  const deliver = (kind) => (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    ev.kind = kind;
    if (kind === 'job' && (ev.status === 'done' || ev.status === 'failed' || ev.status === 'cancelled')) {
      const minute = Math.floor(Date.now() / 60000) * 60000;
      app.finished.set(minute, (app.finished.get(minute) || 0) + 1);
    }
    for (const l of app.listeners) l(ev);
  };
  es.addEventListener('job', deliver('job'));
  es.addEventListener('deleted', deliver('deleted'));
  // The resume point fell out of the server's kept events: what the page shows may have missed
  // changes, so it reloads its data (the stream itself goes on from the head).
  es.addEventListener('reset', () => route());
}

// --- Prometheus text: the overview reads the database gauges the server already computed.
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

// --- Pages.
function overviewPage(main) {
  const counts = h('div', { id: 'counts' }, h('p', { class: 'muted' }, 'loading…'));
  const worker = h('div', { class: 'cards', id: 'worker' });
  const chart = h('div', { id: 'chart' });
  main.append(h('h1', {}, 'Overview'), worker, h('h2', {}, 'Jobs by queue and status'), counts,
    h('h2', {}, 'Jobs finished per minute (last hour, since this page opened)'), chart);
  let counted = false;
  async function refresh() {
    try {
      const { text } = await api('GET', '/metrics');
      const samples = parseMetrics(text);
      const byQueue = new Map();
      for (const s of samples.filter((x) => x.name === 'conveyor_jobs')) {
        if (!byQueue.has(s.labels.queue)) byQueue.set(s.labels.queue, {});
        byQueue.get(s.labels.queue)[s.labels.status] = s.value;
      }
      const total = {};
      const rows = [...byQueue.keys()].sort().map((q) => {
        const c = byQueue.get(q);
        for (const st of STATUSES) total[st] = (total[st] || 0) + (c[st] || 0);
        return h('tr', { 'data-queue': q }, h('td', {}, h('a', { href: `#/jobs?queue=${enc(q)}` }, q)),
          STATUSES.map((st) => h('td', { class: 'num', 'data-status': st }, (c[st] || 0).toLocaleString())));
      });
      counted = byQueue.size > 0;
      counts.replaceChildren(byQueue.size === 0 ? h('p', { class: 'muted' }, 'no counts yet (they are computed every few seconds)')
        : h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'queue'), STATUSES.map((s) => h('th', { class: 'num' }, s)))),
          h('tbody', {}, rows)));
      const gauge = (n) => (samples.find((x) => x.name === n) || { value: 0 }).value;
      const sum = (n) => samples.filter((x) => x.name === n).reduce((a, x) => a + x.value, 0);
      worker.replaceChildren(
        ...STATUSES.slice(0, 2).map((st) => h('div', { class: 'card' }, h('div', { class: 'n', id: `total-${st}` }, (total[st] || 0).toLocaleString()), h('div', { class: 'l' }, st))),
        h('div', { class: 'card' }, h('div', { class: 'n' }, `${gauge('conveyor_worker_running_jobs')}/${gauge('conveyor_worker_slots')}`), h('div', { class: 'l' }, 'running here / slots')),
        h('div', { class: 'card' }, h('div', { class: 'n', id: 'total-cancel-requested' }, sum('conveyor_jobs_cancel_requested').toLocaleString()), h('div', { class: 'l' }, 'cancel requested, still running')),
        h('div', { class: 'card' }, h('div', { class: 'n' }, gauge('conveyor_sse_subscribers')), h('div', { class: 'l' }, 'live subscribers here')));
    } catch (e) {
      if (e.status !== 401) counts.replaceChildren(h('p', { class: 'error' }, `metrics: ${e.message}`));
    }
  }
  function drawChart() {
    const now = Math.floor(Date.now() / 60000) * 60000;
    const bars = [];
    let max = 1;
    for (let i = 59; i >= 0; i -= 1) {
      const n = app.finished.get(now - i * 60000) || 0;
      max = Math.max(max, n);
      bars.push(n);
    }
    const W = 600, H = 120, bw = W / 60;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('width', W);
    svg.setAttribute('height', H + 20);
    bars.forEach((n, i) => {
      const r = document.createElementNS(svg.namespaceURI, 'rect');
      const bh = (n / max) * H;
      r.setAttribute('x', i * bw + 1);
      r.setAttribute('y', H - bh);
      r.setAttribute('width', bw - 2);
      r.setAttribute('height', bh);
      const t = document.createElementNS(svg.namespaceURI, 'title');
      t.textContent = `${n} jobs`;
      r.append(t);
      svg.append(r);
    });
    const label = document.createElementNS(svg.namespaceURI, 'text');
    label.setAttribute('x', 4);
    label.setAttribute('y', H + 15);
    label.setAttribute('font-size', 11);
    label.textContent = `max ${max}/min · now ${bars[59]}/min`;
    svg.append(label);
    chart.replaceChildren(svg);
  }
  // The first scrape of an unwatched process starts the server's sampler: until its counts
  // arrive ask every 300 ms, then every 5 s (the gauges change no faster).
  let first = null;
  const early = () => refresh().then(() => { if (!counted) first = setTimeout(early, 300); });
  early();
  drawChart();
  const timer = setInterval(refresh, 5000);
  let pending = false;
  const onEvent = () => {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; drawChart(); }, 500);
  };
  app.listeners.add(onEvent);
  const chartTimer = setInterval(drawChart, 10000);
  return () => { clearTimeout(first); clearInterval(timer); clearInterval(chartTimer); app.listeners.delete(onEvent); };
}

function jobMatches(filters, ev) {
  // Events carry no unique_key: under that filter only rows already listed are kept current.
  if (filters.unique_key) return false;
  const inList = (v, list) => !list || list.split(',').includes(v);
  return inList(ev.status, filters.status) && inList(ev.queue, filters.queue) && inList(ev.job_type, filters.job_type);
}

function jobRow(j) {
  return h('tr', { 'data-job-id': j.id },
    h('td', {}, h('a', { class: 'mono', href: `#/jobs/${j.id}` }, j.id)),
    h('td', { 'data-field': 'status' }, statusBadge(j.status)),
    h('td', {}, j.job_type), h('td', {}, j.queue), h('td', { class: 'num' }, j.priority),
    h('td', { class: 'num', 'data-field': 'attempts' }, `${j.attempts}/${j.max_attempts}`),
    h('td', { 'data-field': 'updated_at' }, when(j.updated_at)),
    h('td', { class: 'error', 'data-field': 'last_error' }, j.last_error || ''));
}

function jobsPage(main, params) {
  const filters = { status: params.get('status') || '', queue: params.get('queue') || '', job_type: params.get('job_type') || '',
    unique_key: params.get('unique_key') || '' };
  const cursor = params.get('cursor') || '';
  const go = (f, c) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    if (c) q.set('cursor', c);
    location.hash = `#/jobs?${q}`;
  };
  const status = h('select', { id: 'filter-status', 'aria-label': 'status' }, h('option', { value: '' }, 'any status'),
    STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s)));
  const queue = h('input', { id: 'filter-queue', placeholder: 'queue', value: filters.queue, 'aria-label': 'queue' });
  const type = h('input', { id: 'filter-type', placeholder: 'job type', value: filters.job_type, 'aria-label': 'job type' });
  const search = h('input', { id: 'search', placeholder: 'job id or unique key', size: 38, value: filters.unique_key,
    'aria-label': 'job id or unique key' });
  const key = () => (UUID.test(search.value.trim()) ? '' : search.value.trim());
  const apply = () => go({ status: status.value, queue: queue.value.trim(), job_type: type.value.trim(), unique_key: key() }, '');
  // An id opens its job; anything else is a unique key: the jobs that used it (GET /jobs?unique_key=).
  const find = () => {
    const v = search.value.trim();
    if (UUID.test(v)) location.hash = `#/jobs/${v.toLowerCase()}`;
    else go({ ...filters, unique_key: v }, '');
  };
  const tbody = h('tbody', { id: 'jobs' });
  const pager = h('div', { class: 'pager' });
  const message = h('p', { class: 'muted' }, 'loading…');
  main.append(h('h1', {}, 'Jobs'),
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); apply(); } }, status, queue, type,
      h('button', { type: 'submit' }, 'Filter'),
      h('span', { class: 'muted' }, ' or find '), search,
      h('button', { type: 'button', id: 'search-go', onclick: find }, 'Find')),
    h('table', {}, h('thead', {}, h('tr', {}, ['id', 'status', 'type', 'queue', 'prio', 'attempts', 'updated', 'last error'].map((t) => h('th', {}, t)))), tbody),
    message, pager);
  status.addEventListener('change', apply);
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); find(); } });
  (async () => {
    const q = new URLSearchParams({ limit: PAGE_SIZE });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    if (cursor) q.set('cursor', cursor);
    try {
      const { data, headers } = await api('GET', `/jobs?${q}`);
      tbody.replaceChildren(...data.map(jobRow));
      message.textContent = data.length ? '' : 'no jobs match';
      const link = /<([^>]*)>;\s*rel="next"/.exec(headers.get('Link') || '');
      const next = link && new URL(link[1], location.href).searchParams.get('cursor');
      pager.replaceChildren(
        cursor ? h('button', { onclick: () => history.back() }, '← newer') : '',
        h('button', { id: 'next-page', disabled: !next, onclick: () => go(filters, next) }, 'older →'));
    } catch (e) {
      message.className = 'error';
      message.textContent = e.message;
    }
  })();
  const onEvent = (ev) => {
    const row = tbody.querySelector(`tr[data-job-id="${ev.id}"]`);
    if (ev.kind === 'deleted') { if (row) row.remove(); return; }
    if (row) {
      row.replaceWith(jobRow({ ...ev }));
      const fresh = tbody.querySelector(`tr[data-job-id="${ev.id}"]`);
      if (!jobMatches(filters, ev)) fresh.remove(); else fresh.classList.add('flash');
      return;
    }
    // New jobs appear on the first page only: older pages are a fixed window of the past.
    if (!cursor && jobMatches(filters, ev) && (ev.status === 'pending' || !filters.status)) {
      const r = jobRow(ev);
      r.classList.add('flash');
      tbody.prepend(r);
      message.textContent = '';
      while (tbody.children.length > PAGE_SIZE) tbody.lastChild.remove();
    }
  };
  app.listeners.add(onEvent);
  return () => app.listeners.delete(onEvent);
}

function actionButtons(kind, obj, done) {
  return ACTIONS[kind].filter((a) => a.when(obj)).map((a) => h('button', {
    'data-action': a.label,
    onclick: async (e) => {
      e.target.disabled = true;
      try {
        const r = await api(a.method, a.path(obj), a.body ? a.body(obj) : undefined);
        (a.after || done)(r);
        toast(a.said ? a.said(r) : `${a.label}: done`);
      } catch (err) { toast(`${a.label}: ${err.message}`); e.target.disabled = false; }
    },
  }, a.label));
}

function jobPage(main, id) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  main.append(h('h1', {}, 'Job ', h('span', { class: 'mono' }, id)), body, h('h2', {}, 'History'), timeline,
    h('p', { class: 'muted' }, 'Live changes are added as they happen.'));
  // The API's job has no cancel_requested_at: the page remembers the 202 it got itself.
  let cancelRequested = false;
  const acted = (r) => { if (r && r.status === 202) cancelRequested = true; load(); };
  const step = (status, ts, extra) => h('li', { 'data-status': status }, h('span', { class: 'when' }, when(ts)), statusBadge(status), extra ? ` ${extra}` : '');
  function render(job) {
    const fields = ['id', 'job_type', 'queue', 'priority', 'unique_key', 'attempts', 'max_attempts', 'last_error', 'scheduled_at', 'processing_started_at', 'finished_at', 'created_at', 'updated_at'];
    body.replaceChildren(
      h('p', {}, h('span', { id: 'job-status' }, statusBadge(job.status)), ' ',
        cancelRequested && job.status === 'processing' ? h('span', { id: 'cancel-note', class: 'muted' }, 'cancel requested, waiting for the attempt to stop ') : '',
        actionButtons('job', job, acted)),
      h('dl', {}, fields.filter((f) => f in job).map((f) => [h('dt', {}, f), h('dd', { class: 'mono', 'data-field': f }, job[f] === null ? '—' : String(job[f]))])),
      h('h2', {}, 'Payload'), h('pre', { id: 'payload' }, JSON.stringify(job.payload, null, 2)));
  }
  async function load() {
    try {
      const { data } = await api('GET', `/jobs/${enc(id)}`);
      render(data);
      if (!timeline.children.length) {
        timeline.append(step('pending', data.created_at, 'created'));
        if (data.processing_started_at) timeline.append(step('processing', data.processing_started_at, `attempt ${data.attempts}`));
        if (data.status !== 'pending' && data.status !== 'processing') timeline.append(step(data.status, data.updated_at, data.last_error || ''));
        else if (data.status === 'pending' && data.attempts > 0) timeline.append(step('pending', data.updated_at, `retry: ${data.last_error || ''}`));
      }
    } catch (e) {
      body.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }
  load();
  const onEvent = (ev) => {
    if (ev.id !== id) return;
    timeline.append(step(ev.kind === 'deleted' ? 'deleted' : ev.status, ev.updated_at, ev.last_error ? ev.last_error : (ev.status === 'processing' ? `attempt ${ev.attempts}` : '')));
    if (ev.kind !== 'deleted') load();
  };
  app.listeners.add(onEvent);
  return () => app.listeners.delete(onEvent);
}

function queuesPage(main) {
  const tbody = h('tbody', { id: 'queues' });
  const message = h('p', { class: 'muted' }, 'loading…');
  main.append(h('h1', {}, 'Queues'),
    h('table', {}, h('thead', {}, h('tr', {}, ['queue', 'state', 'pending', 'processing', 'oldest pending', 'concurrency limit', ''].map((t) => h('th', {}, t)))), tbody), message);
  function row(q) {
    const limit = h('input', { type: 'number', min: 0, size: 5, value: q.concurrency_limit === null ? '' : q.concurrency_limit, placeholder: 'none', 'aria-label': `limit of ${q.name}` });
    return h('tr', { 'data-queue': q.name, 'data-paused': String(q.paused) },
      h('td', {}, h('a', { href: `#/jobs?queue=${enc(q.name)}` }, q.name)),
      h('td', { 'data-field': 'state' }, q.paused ? 'paused' : 'running'),
      h('td', { class: 'num' }, q.pending), h('td', { class: 'num' }, q.processing),
      h('td', { class: 'num' }, q.oldest_pending_age_s === null ? '—' : `${q.oldest_pending_age_s} s`),
      h('td', {}, h('form', { onsubmit: async (e) => {
        e.preventDefault();
        const v = limit.value.trim();
        try { await api('PATCH', `/queues/${enc(q.name)}`, { concurrency_limit: v === '' ? null : Number(v) }); toast('limit set'); load(); } catch (err) { toast(err.message); }
      } }, limit, h('button', { type: 'submit' }, 'Set'))),
      h('td', {}, actionButtons('queue', q, () => load())));
  }
  async function load() {
    try {
      const { data } = await api('GET', '/queues');
      tbody.replaceChildren(...data.map(row));
      message.textContent = data.length ? '' : 'no queues yet';
    } catch (e) {
      message.className = 'error';
      message.textContent = e.message;
    }
  }
  load();
  let scheduled = false;
  const onEvent = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => { scheduled = false; load(); }, 1000);
  };
  app.listeners.add(onEvent);
  return () => app.listeners.delete(onEvent);
}

function schedulesPage(main) {
  const tbody = h('tbody', { id: 'schedules' });
  const message = h('p', { class: 'muted' }, 'loading…');
  main.append(h('h1', {}, 'Schedules'),
    h('table', {}, h('thead', {}, h('tr', {}, ['schedule', 'cron', 'time zone', 'job', 'state', 'next run', 'last run', ''].map((t) => h('th', {}, t)))), tbody),
    message,
    h('p', { class: 'muted' }, 'Created and changed with PUT /schedules/<name> (see the README); a disabled schedule enqueues nothing.'));
  function row(s) {
    const job = s.job || {};
    return h('tr', { 'data-schedule': s.name, 'data-enabled': String(s.enabled) },
      h('td', {}, s.name), h('td', { class: 'mono' }, s.cron), h('td', {}, s.timezone),
      h('td', {}, h('a', { href: `#/jobs?queue=${enc(job.queue || 'default')}&job_type=${enc(job.job_type || '')}` }, `${job.job_type} in ${job.queue}`),
        job.unique_key ? h('span', { class: 'muted' }, ` (key ${job.unique_key})`) : ''),
      h('td', { 'data-field': 'state' }, s.enabled ? 'enabled' : 'disabled'),
      h('td', { 'data-field': 'next_run_at' }, when(s.next_run_at)),
      h('td', { 'data-field': 'last_run_at' }, when(s.last_run_at)),
      h('td', {}, actionButtons('schedule', s, () => load())));
  }
  async function load() {
    try {
      const { data } = await api('GET', '/schedules');
      tbody.replaceChildren(...data.map(row));
      message.textContent = data.length ? '' : 'no schedules yet';
    } catch (e) {
      message.className = 'error';
      message.textContent = e.message;
    }
  }
  load();
  // Schedules have no events of their own: a slot shows as its job's creation, so any event
  // (throttled) and a slow timer (for next_run_at moving on) reload the list.
  let scheduled = false;
  const onEvent = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => { scheduled = false; load(); }, 1000);
  };
  app.listeners.add(onEvent);
  const timer = setInterval(load, 15000);
  return () => { clearInterval(timer); app.listeners.delete(onEvent); };
}

// --- Routing by hash: #/, #/jobs?…, #/jobs/<id>, #/queues, #/schedules.
function route() {
  if (app.page) app.page();
  app.listeners.clear();
  const main = document.getElementById('main');
  main.replaceChildren();
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  let name = 'overview';
  if (path === '/jobs') { name = 'jobs'; app.page = jobsPage(main, params); }
  else if (path.startsWith('/jobs/')) { name = 'jobs'; app.page = jobPage(main, decodeURIComponent(path.slice(6))); }
  else if (path === '/queues') { name = 'queues'; app.page = queuesPage(main); }
  else if (path === '/schedules') { name = 'schedules'; app.page = schedulesPage(main); }
  else app.page = overviewPage(main);
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === name);
}
window.addEventListener('hashchange', route);
connectEvents();
route();
