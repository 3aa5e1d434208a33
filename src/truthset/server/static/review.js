import {api, el, renderGuide} from './common.js';
import {nerReview} from './review_ner.js';

const $ = (id) => document.getElementById(id);
const page = $('review');
const task = page.dataset.task;
let schema = null, queue = [], item = null, ner = null, busy = false;

function say(msg, isError = false) { $('status').textContent = msg; $('status').className = isError ? 'status error' : 'status'; }
const fmt = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
const textOf = (it) => String(it.data.image ?? it.data[page.dataset.textField || 'text'] ?? JSON.stringify(it.data));

async function load() {
  if (!queue.length) queue = (await api('/api/review/queue?limit=50')).items;
  const next = queue.shift();
  if (!next) {
    item = null; $('why').textContent = ''; $('findings').replaceChildren();
    if (ner) ner.clear();
    else { $('item').textContent = 'Nothing to review.'; $('annotations').tBodies[0].replaceChildren(); }
    return;
  }
  item = await api(`/api/items/${next.item_id}`);
  $('why').textContent = next.reasons.join(', ');
  await showFindings(next);
  const text = textOf(item);
  if (ner) { ner.show(item, text); return; }
  if (task === 'image-classification') {
    $('item').replaceChildren(el('img', {src: `/api/items/${item.item_id}/image`, alt: text, class: 'picture'}));
  } else $('item').textContent = text;
  $('annotations').tBodies[0].replaceChildren(...item.annotations.map((a) => el('tr', {},
    el('td', {}, a.annotator), el('td', {}, fmt(a.value)),
    el('td', {}, el('button', {type: 'button', class: 'secondary', onclick: () => verdict('accept', a.annotation_id)}, 'Accept'),
      ' ', el('button', {type: 'button', class: 'secondary', onclick: () => verdict('reject', a.annotation_id)}, 'Reject')))));
}

// Data-check findings that sent the item here (truthset check --send-to-review): the reviewer
// says whether the label was wrong (the check was right), right (a false alarm) or ambiguous.
async function showFindings(next) {
  const box = $('findings');
  box.replaceChildren();
  if (!next.reasons.some((r) => r.startsWith('check: '))) return;
  const found = (await api(`/api/findings?item_id=${next.item_id}`)).findings.filter((f) => f.verdict === null);
  for (const f of found) {
    const detail = Object.entries(f.detail).filter(([k]) => k !== 'ids').map(([k, v]) => `${k}: ${fmt(v)}`).join(', ');
    const row = el('p', {class: 'finding'}, `${f.check}`, f.score === null ? '' : ` (score ${f.score.toFixed(3)})`,
      detail ? ` — ${detail} ` : ' ');
    for (const [v, label] of [['wrong', 'Label was wrong'], ['right', 'Label was right'], ['ambiguous', 'Ambiguous']]) {
      row.append(el('button', {type: 'button', class: 'secondary', 'data-verdict': v, onclick: async () => {
        try {
          await api(`/api/findings/${f.id}/verdict`, {verdict: v});
          row.replaceChildren(`${f.check}: ${label.toLowerCase()} (recorded)`);
        } catch (e) { say(e.message, true); }
      }}, label), ' ');
    }
    box.append(row);
  }
}

// Send a verdict on the shown item, then show the next one. `value` is the adjudicated value
// (verdict "correct"); without it the single-label form's choice is used.
async function verdict(kind, annotationId, value, message) {
  if (!item || busy) return;
  const body = {verdict: kind, annotation_id: annotationId ?? null};
  if (kind === 'reject') body.reason = $('reject-reason').value;
  if (kind === 'correct') body.value = value !== undefined ? value : task === 'multi-label' ? [$('correction').value] : $('correction').value;
  busy = true;
  try {
    await api(`/api/review/${item.item_id}`, body);
    say(message ?? `${kind}ed.`);
    await load();
  } catch (e) { say(e.message, true); } finally { busy = false; }
}

async function start() {
  schema = await api('/api/schema');
  renderGuide($('guide'), schema);
  if (task === 'ner') {
    ner = nerReview({
      schema, say,
      adjudicate: (value, annotationId, message) => verdict('correct', annotationId, value, message),
      reject: (annotationId) => verdict('reject', annotationId, undefined, 'Rejected.'),
      next: () => load().then(() => say('')).catch((e) => say(e.message, true)),
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.target.closest('input, select, textarea') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      // Enter on a focused button would also click it: the page's keys decide instead.
      if (ner.key(ev)) ev.preventDefault();
    });
  } else {
    $('correction').replaceChildren(...schema.labels.map((l) => el('option', {value: l.name}, l.name)));
    $('correct').onclick = () => verdict('correct');
  }
  await load();
}

start().catch((e) => say(e.message, true));
