// fazt's dashboard: one page, no build step, nothing fetched from elsewhere. Everything it
// shows and changes goes through the public JSON API (see README "API"), so anything done
// here can be scripted with a token too. The session is an HttpOnly cookie: this script
// never sees it.
'use strict';

const $ = (s, el = document) => el.querySelector(s);

// h('tag', {attr, onclick}, ...children): a DOM element (children: nodes, text, arrays).
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  for (const c of kids.flat(9)) if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

function say(text, good) {
  const m = $('#msg');
  m.textContent = text;
  m.className = good ? 'ok' : '';
  m.hidden = !text;
}

// The API's answer's `data`; its `error.message` thrown as the Error's message.
async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, init);
  let j = null;
  try { j = await r.json(); } catch (_) { /* not JSON */ }
  if (r.status === 401 && path !== '/api/login') { showLogin(); }
  if (!r.ok) {
    const e = new Error(j && j.error ? j.error.message : r.status + ' ' + r.statusText);
    e.status = r.status;
    throw e;
  }
  return j ? j.data : null;
}

const enc = encodeURIComponent;
const fmtBytes = n => n == null ? '–' : n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KB' :
  n < 1073741824 ? (n / 1048576).toFixed(1) + ' MB' : (n / 1073741824).toFixed(2) + ' GB';
const fmtTime = t => t ? new Date(t * 1000).toLocaleString() : '–';
const fmtDur = s => s < 120 ? s + ' s' : s < 7200 ? Math.round(s / 60) + ' min' : s < 172800 ? Math.round(s / 3600) + ' h' : Math.round(s / 86400) + ' days';
const card = (label, value) => h('div', { class: 'card' }, h('b', {}, value), h('span', {}, label));
const table = (head, rows) => h('div', { class: 'scroll' }, h('table', {},
  h('thead', {}, h('tr', {}, head.map(x => h('th', {}, x)))),
  h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: head.length, class: 'mute' }, 'none')))));
const button = (text, onclick, cls) => h('button', { type: 'button', class: cls, onclick }, text);

// A form whose submit runs `fn(values)` and reports its error; `fields` are [name, label, attrs].
function form(fields, submit, fn) {
  const f = h('form', { class: 'row' },
    fields.map(([name, label, attrs]) => h('label', {}, label, h('input', Object.assign({ name }, attrs)))),
    h('button', { class: 'primary' }, submit));
  f.addEventListener('submit', async ev => {
    ev.preventDefault();
    const v = Object.fromEntries(new FormData(f));
    for (const el of f.querySelectorAll('input[type=checkbox]')) v[el.name] = el.checked;
    try { await fn(v, f); } catch (e) { say(e.message); }
  });
  return f;
}

// ── pages ────────────────────────────────────────────────────────────────────────────────

async function overview() {
  const [hl, sites] = await Promise.all([api('GET', '/api/system/health'), api('GET', '/api/sites')]);
  let stats = null;
  try { stats = await api('GET', '/api/stats?days=7'); } catch (_) { /* built without analytics */ }
  const certs = hl.certificates || [];
  const b = hl.backup && (hl.backup.last_ok || hl.backup.last);
  return [h('h1', {}, 'Overview'),
    h('div', { class: 'cards' },
      card('version', hl.version), card('uptime', fmtDur(hl.uptime_seconds)),
      card('memory (RSS)', fmtBytes(hl.memory.rss_bytes)), card('database', fmtBytes(hl.database.size_bytes)),
      card('sites', sites.length), card('files', hl.vfs.files),
      card('last backup', b ? fmtTime(b.finished_at || b.created_at) : 'never'),
      stats && card('visitors, 7 days', stats.totals.visitors),
      stats && card('pageviews, 7 days', stats.totals.pageviews)),
    h('h2', {}, 'Certificates'),
    table(['name', 'expires', 'state'], certs.map(c => h('tr', {},
      h('td', {}, c.domain || c.name), h('td', {}, c.not_after ? fmtTime(c.not_after) : (c.expires || '–')),
      h('td', {}, c.status || c.state || '')))),
    h('p', { class: 'mute' }, 'Status: ' + hl.status + ' · domain ' + hl.domain + ' · schema ' + hl.database.schema_version)];
}

async function sites() {
  const list = await api('GET', '/api/sites');
  return [h('h1', {}, 'Sites'), deployBox(),
    table(['site', 'files', 'size', 'updated', ''], list.map(s => h('tr', {},
      h('td', {}, h('a', { href: '#/site/' + enc(s.name) }, s.name), s.system ? h('span', { class: 'mute' }, ' (system)') : ''),
      h('td', {}, s.file_count), h('td', {}, fmtBytes(s.size_bytes)), h('td', {}, fmtTime(s.updated_at)),
      h('td', {}, h('a', { href: s.url, target: '_blank', rel: 'noopener' }, 'open'), ' ',
        s.system ? '' : button('Delete', async () => {
          if (!confirm('Delete site ' + s.name + ' and all its files?')) return;
          try { await api('DELETE', '/api/sites/' + enc(s.name)); say('Deleted ' + s.name, true); route(); } catch (e) { say(e.message); }
        }, 'danger')))))];
}

// Deploy a folder (picker or drop) or a ZIP: a folder is zipped here (stored, no compression).
function deployBox() {
  const name = h('input', { name: 'site', required: true, placeholder: 'blog', pattern: '[a-z0-9][a-z0-9-]*', 'aria-label': 'site name' });
  const files = h('input', { type: 'file', name: 'files', multiple: true, 'aria-label': 'files or a ZIP' });
  const folder = h('input', { type: 'file', webkitdirectory: true, 'aria-label': 'a folder' });
  const bar = h('progress', { max: 1, value: 0, hidden: true });
  const drop = h('div', { class: 'drop', tabindex: 0 }, 'Drop a folder or a ZIP here');
  let picked = [];
  const pick = list => { picked = list; drop.textContent = list.length + ' file(s) ready'; };
  files.onchange = () => pick([...files.files].map(f => [f.webkitRelativePath || f.name, f]));
  folder.onchange = () => pick([...folder.files].map(f => [f.webkitRelativePath || f.name, f]));
  drop.ondragover = ev => { ev.preventDefault(); drop.classList.add('over'); };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = async ev => {
    ev.preventDefault(); drop.classList.remove('over');
    const out = [];
    const walk = (entry, dir) => new Promise(res => {
      if (entry.isFile) entry.file(f => { out.push([dir + f.name, f]); res(); }, res);
      else { const rd = entry.createReader(); const all = [];
        const more = () => rd.readEntries(async es => { if (!es.length) { for (const e of all) await walk(e, dir + entry.name + '/'); res(); } else { all.push(...es); more(); } }, res);
        more(); }
    });
    for (const it of [...ev.dataTransfer.items]) { const e = it.webkitGetAsEntry && it.webkitGetAsEntry(); if (e) await walk(e, ''); }
    pick(out);
  };
  const f = h('form', { class: 'row' }, h('label', {}, 'site', name), h('label', {}, 'files or a ZIP', files),
    h('label', {}, 'or a folder', folder), h('button', { class: 'primary' }, 'Deploy'));
  f.addEventListener('submit', async ev => {
    ev.preventDefault();
    if (!picked.length) return say('Choose a folder or a ZIP first');
    const one = picked.length === 1 && /\.zip$/i.test(picked[0][0]);
    const body = one ? picked[0][1] : await zip(picked);
    bar.hidden = false; bar.value = 0;
    const x = new XMLHttpRequest();
    x.open('PUT', '/api/sites/' + enc(name.value));
    x.upload.onprogress = e => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    x.onload = () => {
      bar.hidden = true;
      let j = null; try { j = JSON.parse(x.responseText); } catch (_) { /* not JSON */ }
      if (x.status >= 200 && x.status < 300) { say('Deployed ' + name.value + ' (' + (j && j.data ? j.data.file_count : '?') + ' files)', true); route(); }
      else say(j && j.error ? j.error.message : 'deploy failed: ' + x.status);
    };
    x.onerror = () => { bar.hidden = true; say('deploy failed: the connection broke'); };
    x.send(body);
  });
  return h('section', {}, h('h2', {}, 'Deploy'), f, drop, bar);
}

// A ZIP (stored entries, CRC-32) of [path, File] pairs.
let crcTable;
async function zip(entries) {
  crcTable = crcTable || Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const parts = [], central = [];
  let off = 0;
  const te = new TextEncoder();
  for (const [path, file] of entries) {
    const data = new Uint8Array(await file.arrayBuffer());
    let c = 0xffffffff; for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 255] ^ (c >>> 8);
    c = (c ^ 0xffffffff) >>> 0;
    const name = te.encode(path);
    const head = (sig, extra) => { const b = new DataView(new ArrayBuffer(extra + name.length));
      b.setUint32(0, sig, true); return b; };
    const l = head(0x04034b50, 30);
    l.setUint16(4, 20, true); l.setUint16(6, 0x800, true); l.setUint32(14, c, true);
    l.setUint32(18, data.length, true); l.setUint32(22, data.length, true); l.setUint16(26, name.length, true);
    new Uint8Array(l.buffer).set(name, 30);
    const ce = head(0x02014b50, 46);
    ce.setUint16(4, 20, true); ce.setUint16(6, 20, true); ce.setUint16(8, 0x800, true); ce.setUint32(16, c, true);
    ce.setUint32(20, data.length, true); ce.setUint32(24, data.length, true); ce.setUint16(28, name.length, true);
    ce.setUint32(42, off, true);
    new Uint8Array(ce.buffer).set(name, 46);
    parts.push(l.buffer, data); central.push(ce.buffer);
    off += 30 + name.length + data.length;
  }
  const size = central.reduce((n, b) => n + b.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true); end.setUint16(8, entries.length, true); end.setUint16(10, entries.length, true);
  end.setUint32(12, size, true); end.setUint32(16, off, true);
  return new Blob([...parts, ...central, end.buffer], { type: 'application/zip' });
}

let logStream;
async function site(name) {
  const base = '/api/sites/' + enc(name);
  const [s, files, env, deps] = await Promise.all([api('GET', base), api('GET', base + '/files'),
    api('GET', base + '/env'), api('GET', base + '/deployments').catch(() => [])]);
  // The recent lines, then new ones as they are logged (Server-Sent Events; the browser
  // reconnects by itself and says where it was).
  const logs = h('pre', { id: 'logs', 'aria-live': 'polite' }, '');
  const show = l => { logs.append(fmtTime(l.created_at) + ' ' + l.level + ' ' + l.message + '\n'); logs.scrollTop = logs.scrollHeight; };
  const recent = await api('GET', base + '/logs?limit=100').catch(() => []);
  recent.forEach(show);
  const after = recent.length ? recent[recent.length - 1].id : 0;
  logStream = new EventSource(base + '/logs?follow=1&after=' + after);
  logStream.onmessage = e => show(JSON.parse(e.data));
  const toggle = (key, on, what) => {
    const box = h('input', { type: 'checkbox', name: key, checked: !!on });
    box.onchange = async () => {
      try { await api('PATCH', base, { [key]: box.checked }); say(what + ' ' + (box.checked ? 'on' : 'off') + ' for ' + name, true); }
      catch (e) { box.checked = !box.checked; say(e.message); }
    };
    return box;
  };
  const spa = toggle('spa', s.spa, 'SPA fallback');
  const ws = toggle('websocket', s.websocket, 'WebSocket /ws');
  let chart = null;
  try { const st = await api('GET', '/api/stats?days=30&site=' + enc(name)); chart = lineChart(st.series, 'pageviews'); } catch (_) { /* no analytics */ }
  return [h('h1', {}, name, ' ', h('a', { href: s.url, target: '_blank', rel: 'noopener' }, 'open ↗')),
    h('div', { class: 'cards' }, card('files', s.file_count), card('size', fmtBytes(s.size_bytes)),
      card('script', s.has_script ? 'main.js' : 'static'),
      (s.has_script || s.websocket) && card('WebSocket clients', s.websocket_clients),
      card('last deploy', s.last_deployment ? fmtTime(s.last_deployment.created_at) : '–')),
    h('p', {}, h('label', { style: 'flex-direction:row;gap:.4rem' }, spa, 'SPA fallback (unknown paths serve index.html)')),
    h('p', {}, h('label', { style: 'flex-direction:row;gap:.4rem' }, ws, 'WebSocket /ws (messages go to the other clients; a main.js site has it always)')),
    chart && [h('h2', {}, 'Visits, 30 days'), chart],
    h('h2', {}, 'Live logs'), logs,
    h('h2', {}, 'Deployments'),
    table(['id', 'when', 'by', 'files', 'message', ''], deps.map(d => h('tr', {},
      h('td', {}, d.id), h('td', {}, fmtTime(d.created_at)), h('td', {}, d.deployed_by || ''), h('td', {}, d.file_count),
      h('td', {}, d.message || ''), h('td', {}, d.live ? 'live' : d.restorable ? button('Roll back', async () => {
        try { await api('POST', base + '/rollback', { to: d.id }); say('Rolled ' + name + ' back to ' + d.id, true); route(); } catch (e) { say(e.message); }
      }) : '')))),
    h('h2', {}, 'Environment'),
    table(['name', 'updated', ''], env.map(v => h('tr', {}, h('td', {}, v.name), h('td', {}, fmtTime(v.updated_at)),
      h('td', {}, button('Remove', async () => { try { await api('DELETE', base + '/env/' + enc(v.name)); route(); } catch (e) { say(e.message); } }, 'danger'))))),
    form([['name', 'name', { required: true }], ['value', 'value (write-only)', { type: 'password', autocomplete: 'off' }]], 'Set',
      async v => { await api('PUT', base + '/env/' + enc(v.name), { value: v.value }); say('Set ' + v.name, true); route(); }),
    h('h2', {}, 'Files'),
    table(['path', 'size', 'type'], files.map(f => h('tr', {}, h('td', {}, f.path), h('td', {}, fmtBytes(f.size_bytes)), h('td', {}, f.mime_type))))];
}

// An SVG line chart of series[key] over series[].t, stretched to the width, with a caption.
function lineChart(series, key) {
  const ns = 'http://www.w3.org/2000/svg', W = 600, H = 160;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`); svg.setAttribute('class', 'chart');
  svg.setAttribute('preserveAspectRatio', 'none'); svg.setAttribute('role', 'img');
  const max = Math.max(1, ...series.map(p => p[key]));
  const pts = series.map((p, i) => [series.length > 1 ? i * W / (series.length - 1) : W / 2, H - 6 - (p[key] / max) * (H - 12)]);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', pts.map(p => p.join(',')).join(' '));
  line.setAttribute('stroke', 'currentColor'); line.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.style.color = 'var(--acc)';
  svg.append(line);
  svg.setAttribute('aria-label', key + ', ' + series.length + ' points, max ' + max);
  return h('figure', { style: 'margin:0' }, svg, h('figcaption', { class: 'mute' }, key + ' (max ' + max + ')'));
}

function bars(rows, label) {
  const max = Math.max(1, ...rows.map(r => r.pageviews));
  return h('div', { class: 'bars' }, rows.length ? rows.map(r => h('div', {}, h('i', { style: 'width:' + (8 * r.pageviews / max) + 'rem' }), r.pageviews + ' ' + (r[label] || '(none)'))) : h('p', { class: 'mute' }, 'none'));
}

async function analytics(q) {
  const days = +(q.get('days') || 7), s = q.get('site') || '';
  const st = await api('GET', '/api/stats?days=' + days + (s ? '&site=' + enc(s) : ''));
  const sel = h('select', { 'aria-label': 'range' }, [1, 7, 30, 90].map(d => h('option', { value: d, selected: d === days }, d + ' days')));
  sel.onchange = () => { location.hash = '#/analytics?days=' + sel.value + (s ? '&site=' + enc(s) : ''); };
  const t = st.totals;
  return [h('h1', {}, 'Analytics', s ? ' · ' + s : ''), h('p', {}, sel),
    h('div', { class: 'cards' }, card('pageviews', t.pageviews), card('visitors', t.visitors), card('requests', t.requests),
      card('bots', t.bots), card('bytes out', fmtBytes(t.bytes))),
    h('h2', {}, 'Pageviews and visitors'), lineChart(st.series, 'pageviews'), lineChart(st.series, 'visitors'),
    h('h2', {}, 'Status'), h('div', { class: 'cards' }, Object.entries(st.status).map(([k, v]) => card(k, v))),
    h('h2', {}, 'Top paths'), bars(st.top_paths, 'path'),
    h('h2', {}, 'Top referrers'), bars(st.top_referrers, 'referrer')];
}

async function links() {
  const [rs, ws] = await Promise.all([api('GET', '/api/redirects'), api('GET', '/api/webhooks')]);
  const del = (path, what) => button('Delete', async () => {
    if (!confirm('Delete ' + what + '?')) return;
    try { await api('DELETE', path); route(); } catch (e) { say(e.message); }
  }, 'danger');
  return [h('h1', {}, 'Short links'),
    form([['slug', 'slug', { required: true }], ['destination', 'destination URL', { required: true, type: 'url' }]], 'Add',
      async v => { await api('POST', '/api/redirects', v); say('Added /r/' + v.slug, true); route(); }),
    table(['link', 'destination', 'clicks', ''], rs.map(r => h('tr', {}, h('td', {}, h('a', { href: r.url }, '/r/' + r.slug)),
      h('td', {}, r.destination), h('td', {}, r.click_count), h('td', {}, del('/api/redirects/' + r.id, 'link ' + r.slug))))),
    h('h1', {}, 'Webhooks'),
    form([['name', 'name', { required: true }], ['endpoint', 'endpoint', { required: true }], ['secret', 'secret (optional)', { type: 'password', autocomplete: 'off' }]], 'Add',
      async v => { if (!v.secret) delete v.secret; await api('POST', '/api/webhooks', v); say('Added webhook ' + v.name, true); route(); }),
    table(['name', 'URL', 'signed', 'active', ''], ws.map(w => h('tr', {}, h('td', {}, w.name), h('td', {}, w.url),
      h('td', {}, w.has_secret ? 'yes' : 'no'), h('td', {}, w.is_active ? 'yes' : 'no'), h('td', {}, del('/api/webhooks/' + w.id, 'webhook ' + w.name)))))];
}

async function tokens() {
  const keys = await api('GET', '/api/keys');
  const shown = h('div', {});
  const scope = h('select', { name: 'scope', 'aria-label': 'scope' }, h('option', {}, 'deploy'), h('option', {}, 'admin'));
  const f = form([['name', 'name', { required: true, maxlength: 100 }]], 'Create token', async (v, el) => {
    const t = await api('POST', '/api/keys', { name: v.name, scope: scope.value });
    shown.replaceChildren(h('p', {}, 'Token ', h('b', {}, v.name), ' — copy it now, it is shown only once:'), h('p', { class: 'secret', id: 'new-token' }, t.key || t.token));
    el.reset();
    $('#token-list').replaceWith(await keyTable());
  });
  f.insertBefore(h('label', {}, 'scope', scope), f.lastChild);
  return [h('h1', {}, 'API tokens'), f, shown, await keyTable(keys)];
}

async function keyTable(keys) {
  keys = keys || await api('GET', '/api/keys');
  const t = table(['id', 'name', 'scope', 'created', 'last used', ''], keys.map(k => h('tr', {}, h('td', {}, k.id), h('td', {}, k.name),
    h('td', {}, k.scope), h('td', {}, fmtTime(k.created_at)), h('td', {}, fmtTime(k.last_used_at)),
    h('td', {}, button('Revoke', async () => {
      if (!confirm('Revoke token ' + k.name + '?')) return;
      try { await api('DELETE', '/api/keys/' + k.id); say('Revoked ' + k.name, true); route(); } catch (e) { say(e.message); }
    }, 'danger')))));
  t.id = 'token-list';
  return t;
}

async function system() {
  const [hl, ss, cfg] = await Promise.all([api('GET', '/api/system/health'), api('GET', '/api/sessions'),
    api('GET', '/api/system/config').catch(() => null)]);
  return [h('h1', {}, 'System'),
    h('h2', {}, 'Sessions'),
    table(['id', 'from', 'browser', 'logged in', 'last seen', ''], ss.map(s => h('tr', {}, h('td', {}, s.id), h('td', {}, s.ip_address),
      h('td', {}, s.user_agent.slice(0, 60)), h('td', {}, fmtTime(s.created_at)), h('td', {}, fmtTime(s.last_seen_at)),
      h('td', {}, s.current ? 'this one' : button('Revoke', async () => { try { await api('DELETE', '/api/sessions/' + s.id); route(); } catch (e) { say(e.message); } }, 'danger'))))),
    h('h2', {}, 'Health'), h('pre', {}, JSON.stringify(hl, null, 2)),
    cfg && [h('h2', {}, 'Configuration'), h('p', { class: 'mute' }, 'Change options with `fazt config set KEY VALUE` on the server.'), h('pre', {}, JSON.stringify(cfg, null, 2))]];
}

// ── login and routing ────────────────────────────────────────────────────────────────────

async function showLogin() {
  if (logStream) logStream.close();
  $('#nav').hidden = true;
  let st = {};
  try { st = await api('GET', '/api/auth/status'); } catch (_) { /* offline */ }
  const pw = h('input', { type: 'password', name: 'password', id: 'password', autocomplete: 'current-password', required: true, autofocus: true });
  const f = h('form', {}, h('label', {}, 'Password', pw), h('button', { class: 'primary' }, 'Log in'));
  f.addEventListener('submit', async ev => {
    ev.preventDefault();
    try { await api('POST', '/api/login', { password: pw.value }); say(''); route(); }
    catch (e) { say(e.message); pw.select(); }
  });
  $('#main').replaceChildren(h('div', { class: 'login' }, h('h1', {}, 'Log in to fazt'),
    st.password_set === false ? h('p', {}, 'No password is set yet: run ', h('code', {}, 'fazt admin set-password'), ' on the server.') : '', f));
  pw.focus();
}

const pages = { '': overview, sites, analytics, links, tokens, system };

async function route() {
  if (logStream) logStream.close();
  const [path, qs] = location.hash.slice(2).split('?');
  const q = new URLSearchParams(qs || '');
  let st;
  try { st = await api('GET', '/api/auth/status'); } catch (e) { return say(e.message); }
  if (!st.authenticated) return showLogin();
  $('#nav').hidden = false;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('on', a.getAttribute('href') === '#/' + path.split('/')[0]);
  const [page, arg] = path.split('/');
  const fn = page === 'site' ? () => site(decodeURIComponent(arg || '')) : pages[page];
  const main = $('#main');
  if (!fn) return main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Overview')));
  try { main.replaceChildren(...[await fn(q)].flat(9).filter(Boolean)); document.title = (page || 'overview') + ' · fazt'; }
  catch (e) { if (e.status !== 401) say(e.message); }
}

$('#logout').onclick = async () => {
  try { await api('POST', '/api/logout'); } catch (_) { /* ended already */ }
  say('Logged out', true);
  showLogin();
};
addEventListener('hashchange', () => { say(''); route(); });
route();
