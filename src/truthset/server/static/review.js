import {api, el, renderGuide, renderText} from './common.js';

const $ = (id) => document.getElementById(id);
const task = $('review').dataset.task;
let schema = null, queue = [], item = null;

function say(msg, isError = false) { $('status').textContent = msg; $('status').className = isError ? 'status error' : 'status'; }
const fmt = (v) => (typeof v === 'string' ? v : Array.isArray(v) && v.length && typeof v[0] === 'object'
  ? v.map((s) => `${s.label}[${s.start}-${s.end}]`).join(', ') : JSON.stringify(v));

async function load() {
  if (!queue.length) queue = (await api('/api/review/queue?limit=50')).items;
  const next = queue.shift();
  if (!next) { item = null; $('item').textContent = 'Nothing to review.'; $('annotations').tBodies[0].replaceChildren(); return; }
  item = await api(`/api/items/${next.item_id}`);
  $('why').textContent = next.reasons.join(', ');
  const text = String(item.data.image ?? item.data[$('review').dataset.textField || 'text'] ?? JSON.stringify(item.data));
  if (task === 'ner') renderText($('item'), text, []);
  else if (task === 'image-classification') {
    $('item').replaceChildren(el('img', {src: `/api/items/${item.item_id}/image`, alt: text, class: 'picture'}));
  } else $('item').textContent = text;
  $('annotations').tBodies[0].replaceChildren(...item.annotations.map((a) => el('tr', {},
    el('td', {}, a.annotator), el('td', {}, fmt(a.value)),
    el('td', {}, el('button', {type: 'button', class: 'secondary', onclick: () => verdict('accept', a.annotation_id)}, 'Accept'),
      ' ', el('button', {type: 'button', class: 'secondary', onclick: () => verdict('reject', a.annotation_id)}, 'Reject')))));
}

async function verdict(kind, annotationId) {
  const body = {verdict: kind, annotation_id: annotationId ?? null};
  if (kind === 'reject') body.reason = $('reject-reason').value;
  if (kind === 'correct') body.value = task === 'multi-label' ? [$('correction').value] : $('correction').value;
  try { await api(`/api/review/${item.item_id}`, body); say(`${kind}ed.`); await load(); } catch (e) { say(e.message, true); }
}

async function start() {
  schema = await api('/api/schema');
  renderGuide($('guide'), schema);
  $('correction').replaceChildren(...schema.labels.map((l) => el('option', {value: l.name}, l.name)));
  $('correct').onclick = () => verdict('correct');
  if (task === 'ner') $('correct').disabled = true;
  await load();
}

start().catch((e) => say(e.message, true));
