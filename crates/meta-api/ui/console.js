// The metad web console. It long-polls GET /v1/console: each reply carries a version, and the
// next request passes it back as `after`, so the server answers when the view changes (or after
// `wait`). Clocks that only count (heartbeat ages, countdowns) are advanced here between replies.
// Data is only ever inserted as text (textContent), never as HTML.
'use strict';

const TOKEN_KEY = 'metad-console-token';
const WAIT = '25s';
const RETRY_MS = 2000;

let current = null; // the last view
let receivedAt = 0; // Date.now() when it arrived

class AuthError extends Error {}

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'data') for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** 1536 -> "1.5 KiB". */
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${numberFormat.format(value)} ${units[unit]}`;
}

/** Milliseconds as people read them: "850 ms", "4.2 s", "3 min 5 s", "2 h 10 min". */
function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${numberFormat.format(ms / 1000)} s`;
  if (ms < 3600000) return `${Math.floor(ms / 60000)} min ${Math.floor((ms % 60000) / 1000)} s`;
  return `${Math.floor(ms / 3600000)} h ${Math.floor((ms % 3600000) / 60000)} min`;
}

/** Nanoseconds since the epoch as an ISO time. */
function isoTime(nanos) {
  return new Date(nanos / 1e6).toISOString().replace('.000Z', 'Z');
}

/** Milliseconds since the last reply arrived. */
function sinceReply() {
  return Date.now() - receivedAt;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch {
    return response.statusText;
  }
}

/** One GET /v1/console; with `after`, waits for a change. */
async function fetchView(after) {
  const params = new URLSearchParams();
  if (after) {
    params.set('after', after);
    params.set('wait', WAIT);
  }
  const headers = {};
  const given = token();
  if (given) headers.Authorization = `Bearer ${given}`;
  const response = await fetch(`/v1/console?${params}`, { headers, cache: 'no-store' });
  if (response.status === 401) throw new AuthError(await errorMessage(response));
  if (!response.ok) throw new Error(`${response.status}: ${await errorMessage(response)}`);
  return response.json();
}

function setConnection(state, text) {
  const connection = $('connection');
  connection.dataset.state = state;
  connection.textContent = text;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls for ever; returns only when a token is needed. */
async function poll() {
  let version = null;
  for (;;) {
    try {
      const view = await fetchView(version);
      current = view;
      receivedAt = Date.now();
      version = view.version;
      setConnection('live', 'live');
      render();
    } catch (error) {
      if (error instanceof AuthError) {
        const refused = token();
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin(refused ? error.message : '');
        return;
      }
      setConnection('error', `reconnecting: ${error.message}`);
      version = null;
      await sleep(RETRY_MS);
    }
  }
}

function showLogin(message) {
  $('console').hidden = true;
  $('sign-out').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  setConnection('locked', 'token required');
  $('token').focus();
}

function start() {
  $('login').hidden = true;
  $('console').hidden = false;
  $('sign-out').hidden = !token();
  setConnection('connecting', 'connecting…');
  poll();
}

function replace(parent, children) {
  parent.replaceChildren(...children);
}

function renderMetaNodes(view) {
  const leader = view.meta_nodes
    .map((node) => node.status)
    .find((status) => status && status.leader_id !== null && status.leader_id !== undefined);
  const leaderId = leader ? leader.leader_id : null;
  $('leader').textContent = leaderId === null
    ? 'No leader is known.'
    : `Leader: meta node ${leaderId}, term ${leader.term}. Answered by meta node ${view.answered_by}.`;
  $('leader').dataset.leader = leaderId === null ? '' : String(leaderId);
  const clusterId = view.meta_nodes.map((n) => n.status && n.status.cluster_id).find(Boolean);
  $('cluster-id').textContent = clusterId ? `cluster ${clusterId}` : '';
  replace($('meta-nodes'), view.meta_nodes.map((node) => {
    const s = node.status;
    const health = s ? 'ok' : 'unreachable';
    const value = (field) => (s && s[field] !== null && s[field] !== undefined ? s[field] : '–');
    return el('tr', { data: { nodeId: node.id, health, leader: node.id === leaderId } },
      el('td', {}, node.id),
      el('td', {}, node.addr),
      el('td', {}, node.voter ? 'voter' : 'learner'),
      el('td', {}, s ? s.raft_state.toLowerCase() : '–'),
      el('td', {}, value('term')),
      el('td', {}, value('last_log_index')),
      el('td', {}, value('committed_index')),
      el('td', {}, value('applied_index')),
      el('td', {}, value('snapshot_index')),
      el('td', { class: `badge ${health}`, title: node.error || '' }, s ? 'ok' : `unreachable: ${node.error}`));
  }));
}

function renderDataNodes(view) {
  const elapsed = sinceReply();
  replace($('data-nodes'), view.data_nodes.map((node) => {
    const liveness = node.liveness || 'unknown';
    const heard = node.last_heartbeat_ms !== null ? `${duration(node.last_heartbeat_ms + elapsed)} ago` : '–';
    let deadIn = '–';
    if (node.dead_in_ms !== null) deadIn = duration(Math.max(0, node.dead_in_ms - elapsed));
    else if (liveness === 'dead') deadIn = 'dead';
    const handoff = node.handoff.length === 0
      ? '–'
      : node.handoff.map((q) => {
        const dropped = q.dropped_entries > 0 ? `, ${q.dropped_entries} dropped` : '';
        return `→${q.target}: ${q.entries} (${bytes(q.bytes)}${dropped})`;
      }).join('; ');
    return el('tr', { data: { nodeId: node.id, liveness, state: node.state } },
      el('td', {}, node.id),
      el('td', {}, node.addr),
      el('td', {}, node.state),
      el('td', { class: `badge ${liveness}` }, liveness),
      el('td', {}, heard),
      el('td', { class: 'dead-in' }, deadIn),
      el('td', {}, node.shards_owned),
      el('td', {}, node.shards_reported !== null ? node.shards_reported : '–'),
      el('td', {}, handoff),
      el('td', {}, node.version || '–'));
  }));
}

function renderEntropy(view) {
  const report = view.entropy;
  if (!report) {
    $('entropy-plan').textContent = `No report: ${view.entropy_error}`;
    replace($('entropy-counts'), []);
    return;
  }
  const planned = report.planned_at === null
    ? 'No plan yet.'
    : `Last plan at ${isoTime(report.planned_at)}, took ${duration((report.plan_micros || 0) / 1000)}.`;
  const trust = report.trusted ? '' : ' The leader is still in its grace period: liveness is not trusted yet.';
  $('entropy-plan').textContent = planned + trust;
  const counts = [
    ['unrecoverable', 'unrecoverable'],
    ['inconsistent', 'inconsistent'],
    ['under_replicated', 'under-replicated'],
    ['missing_on_owner', 'missing on an owner'],
    ['mis_replicated', 'mis-replicated'],
    ['over_replicated', 'over-replicated'],
    ['insufficient_nodes', 'too few nodes for their RF'],
  ];
  replace($('entropy-counts'), counts.map(([key, label]) =>
    el('li', { class: report[key] > 0 ? `count ${key}` : 'count zero', data: { count: key } },
      el('strong', {}, report[key]), ` ${label}`)));
}

function renderTasks(view) {
  $('tasks-empty').hidden = view.tasks.length > 0;
  const counts = view.task_counts;
  $('task-counts').textContent = `${counts.open} open of ${counts.kept} kept` +
    (counts.kept > view.tasks.length ? ` (the newest ${view.tasks.length} shown)` : '');
  replace($('tasks'), view.tasks.map(({ task, progress }) => {
    const spec = task.spec;
    let bar = '–';
    let rate = '–';
    let eta = '–';
    if (progress) {
      const percent = progress.bytes_total > 0 ? Math.floor((100 * progress.bytes_done) / progress.bytes_total) : 0;
      bar = el('span', { class: 'progress' },
        el('progress', { max: progress.bytes_total || 1, value: progress.bytes_done }),
        ` ${percent}% ${bytes(progress.bytes_done)} / ${bytes(progress.bytes_total)}`);
      if (progress.bytes_per_sec) {
        rate = `${bytes(progress.bytes_per_sec)}/s`;
        const left = Math.max(0, progress.bytes_total - progress.bytes_done);
        eta = duration(Math.max(0, (1000 * left) / progress.bytes_per_sec - progress.age_ms - sinceReply()));
      }
    } else if (task.state === 'done') {
      bar = el('span', { class: 'progress' }, el('progress', { max: 1, value: 1 }), ' 100%');
    }
    const route = `${spec.source} → ${spec.target}${spec.replaces !== null ? ` (replaces ${spec.replaces})` : ''}`;
    return el('tr', { data: { taskId: task.id, state: task.state, shardId: spec.shard_id } },
      el('td', {}, task.id),
      el('td', {}, task.kind),
      el('td', {}, spec.shard_id),
      el('td', {}, route),
      el('td', {}, spec.reason),
      el('td', { class: `badge ${task.state}` }, task.state),
      el('td', {}, task.attempt),
      el('td', {}, bar),
      el('td', {}, rate),
      el('td', { class: 'eta' }, eta),
      el('td', { class: 'error' }, task.last_error || ''));
  }));
}

function renderShardMap(view) {
  const map = view.shard_map;
  $('shard-summary').textContent =
    `${map.groups.length} of ${map.total_groups} shard groups shown (${map.total_shards} shards): ` +
    'the newest, and up to 200 groups with a shard that has a problem (worst first).';
  const nodes = view.data_nodes;
  const liveness = new Map(nodes.map((n) => [n.id, n.liveness || 'unknown']));
  replace($('shard-map-head'), [
    el('th', {}, 'Database / policy'), el('th', {}, 'Group'), el('th', {}, 'Range'), el('th', {}, 'Shard'),
    ...nodes.map((n) => el('th', { title: n.addr }, `node ${n.id}`)), el('th', {}, 'Problems'),
  ]);
  const rows = [];
  for (const group of map.groups) {
    group.shards.forEach((shard, i) => {
      const cells = nodes.map((node) => {
        if (shard.owners.includes(node.id)) {
          return el('td', { class: `owner ${liveness.get(node.id)}`, title: `owner (${liveness.get(node.id)})` }, '●');
        }
        if (shard.copying_to.includes(node.id)) return el('td', { class: 'copying', title: 'copy in progress' }, '◌');
        return el('td', {}, '');
      });
      const first = i === 0;
      rows.push(el('tr', {
        class: shard.problems.join(' '),
        data: { shardId: shard.shard_id, problems: shard.problems.join(' ') },
      },
      el('td', {}, first ? `${group.database} / ${group.retention_policy} (RF ${group.replication_factor})` : ''),
      el('td', {}, first ? group.group_id : ''),
      el('td', {}, first ? `${isoTime(group.start)} – ${isoTime(group.end)}` : ''),
      el('td', {}, shard.shard_id),
      ...cells,
      el('td', {}, shard.problems.map((p) => p.replaceAll('_', '-')).join(', '))));
    });
  }
  replace($('shard-map-body'), rows);
}

function render() {
  if (!current) return;
  renderMetaNodes(current);
  renderDataNodes(current);
  renderEntropy(current);
  renderTasks(current);
  renderShardMap(current);
  $('updated').textContent = `view of ${isoTime(current.generated_at)}`;
}

/** Between replies, only the clocks move: heartbeat ages, countdowns, ETAs. */
function tick() {
  if (!current) return;
  renderDataNodes(current);
  renderTasks(current);
}

$('login').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value);
  $('token').value = '';
  start();
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  window.location.reload();
});

setInterval(tick, 1000);
start();
