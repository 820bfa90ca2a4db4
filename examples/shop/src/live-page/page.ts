/**
 * The live-sessions page: one static document whose script polls `/admin/live.json` every 2 s.
 * Everything from the server is written with `textContent` (a user name is user input), and the
 * page's Content-Security-Policy allows only its own inline script and requests to its own origin.
 */
export const LIVE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Reprise: live sessions</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  table { border-collapse: collapse; margin: .75rem 0 1.5rem; }
  th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }
  th:first-child, td:first-child, td.user { text-align: left; }
  code { font-family: ui-monospace, monospace; }
  #summary span { margin-right: 1.25rem; }
  .busy { color: #a60; }
  button { cursor: pointer; }
</style>
</head>
<body>
<h1>Live sessions</h1>
<p id="summary">
  <span>live <strong id="live">…</strong> / cap <strong id="cap">…</strong></span>
  <span>idle timeout <strong id="idle-timeout">…</strong></span>
  <span>restored <strong id="restored">…</strong></span>
  <span>updated <strong id="updated">…</strong></span>
</p>
<p id="status" role="status"></p>
<table id="sessions">
  <thead><tr><th>session</th><th>user</th><th>age</th><th>idle</th><th>expires in</th><th>data</th><th></th></tr></thead>
  <tbody></tbody>
</table>
<p id="shown"></p>
<h2>Closes per minute, by reason</h2>
<table id="closes">
  <thead><tr><th>minute</th><th>evicted</th><th>expired</th><th>closed</th><th>shutdown</th><th>handover</th></tr></thead>
  <tbody></tbody>
</table>
<script>
const REASONS = ['evicted', 'expired', 'closed', 'shutdown', 'handover'];
const $ = (id) => document.getElementById(id);

function duration(ms) {
  if (ms === null) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

function bytes(n) {
  return n < 1024 ? n + ' B' : (n / 1024).toFixed(1) + ' KiB';
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderSessions(body) {
  const tbody = $('sessions').tBodies[0];
  tbody.replaceChildren();
  for (const s of body.sessions) {
    const row = tbody.insertRow();
    row.dataset.ref = s.ref;
    const id = cell(row, '');
    const code = document.createElement('code');
    code.textContent = s.idPrefix + '…';
    id.append(code);
    if (s.busy) id.append(' ', Object.assign(document.createElement('span'), { className: 'busy', textContent: 'busy' }));
    cell(row, s.user ?? '–', 'user');
    cell(row, duration(s.ageMs), 'age');
    cell(row, duration(s.idleMs), 'idle');
    cell(row, duration(s.expiresInMs), 'expires');
    cell(row, bytes(s.dataBytes), 'data');
    const button = document.createElement('button');
    button.textContent = 'Close';
    button.addEventListener('click', () => closeSession(s.ref, button));
    row.insertCell().append(button);
  }
  $('shown').textContent = body.shown < body.live ? 'showing the ' + body.shown + ' most recently active of ' + body.live : '';
}

function renderCloses(body) {
  const tbody = $('closes').tBodies[0];
  tbody.replaceChildren();
  for (const m of body.closesPerMinute) {
    const row = tbody.insertRow();
    cell(row, new Date(m.minute).toLocaleTimeString());
    for (const reason of REASONS) cell(row, String(m.counts[reason] ?? 0), reason);
  }
}

async function refresh() {
  try {
    const response = await fetch('/admin/live.json', { cache: 'no-store' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    const body = await response.json();
    $('live').textContent = body.live;
    $('cap').textContent = body.maxSessions;
    $('idle-timeout').textContent = duration(body.idleTimeoutMs);
    $('restored').textContent = body.stats.restored;
    $('updated').textContent = new Date(body.now).toLocaleTimeString();
    renderSessions(body);
    renderCloses(body);
    document.body.dataset.loaded = String(Date.now());
  } catch (error) {
    $('status').textContent = 'could not load: ' + error.message;
  }
}

async function closeSession(ref, button) {
  button.disabled = true;
  const response = await fetch('/admin/live/close?ref=' + encodeURIComponent(ref), { method: 'POST' });
  $('status').textContent = response.ok ? 'closed' : 'not closed: HTTP ' + response.status;
  await refresh();
}

refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
