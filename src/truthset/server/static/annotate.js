import {api, el, renderGuide} from './common.js';
import {renderSpans, selectedSpan, spanText} from './spans.js';

const app = document.getElementById('app');
const task = app.dataset.task;
const $ = (id) => document.getElementById(id);
let schema = null, current = null, selected = [], spans = [], shownAt = 0, busy = false;

function say(msg, isError = false) { $('status').textContent = msg; $('status').className = isError ? 'status error' : 'status'; }

const field = app.dataset.textField || 'text';
function textOf(t) { return String(t.data.image ?? t.data[field] ?? JSON.stringify(t.data)); }
const colors = () => Object.fromEntries((schema?.labels ?? []).map((l) => [l.name, l.color]));

function show(t) {
  current = t; selected = []; spans = [];
  if (!t) {
    $('item').textContent = 'Nothing left for you to annotate. Thank you!';
    $('spans').replaceChildren(); $('labels').classList.add('hidden'); $('reason').textContent = '';
    return;
  }
  $('labels').classList.remove('hidden');
  if (t.prelabel !== null && t.prelabel !== undefined) {
    if (task === 'ner') spans = t.prelabel.map((s) => ({...s}));
    else selected = Array.isArray(t.prelabel) ? [...t.prelabel] : [t.prelabel];
  }
  $('progress').textContent = `${t.progress.done ?? 0} done`;
  $('reason').textContent = t.reason || '';
  draw();
  shownAt = performance.now();
}

function draw() {
  if (!current) return;
  if (task === 'ner') {
    renderSpans($('item'), textOf(current), spans, {colors: colors()});
    $('spans').replaceChildren(...spans.map((s, i) => el('span', {class: 'chip', 'data-i': i},
      `${s.label}: ${spanText(textOf(current), s)}`)));
  } else if (task === 'image-classification') {
    $('item').replaceChildren(el('img', {src: `/api/items/${current.item_id}/image`, alt: textOf(current),
      class: 'picture'}), el('div', {class: 'meta'}, textOf(current)));
  } else {
    $('item').textContent = textOf(current);
  }
  for (const b of $('labels').children) b.classList.toggle('on', selected.includes(b.dataset.label));
}

function choose(name) {
  if (!current) return;
  if (task === 'ner') return markSpan(name);
  if (task === 'multi-label') selected = selected.includes(name) ? selected.filter((x) => x !== name) : [...selected, name];
  else selected = [name];
  draw();
}

function markSpan(label) {
  const sel = window.getSelection();
  if (!sel || sel.isCollapsed) { say('Select some text first, then press a label key.', true); return; }
  const span = selectedSpan($('item'));
  if (!span) return;
  spans.push({...span, label}); sel.removeAllRanges(); say(''); draw();
}

async function submit() {
  if (!current || busy) return;
  const value = task === 'ner' ? spans : task === 'multi-label' ? selected : selected[0];
  if (task !== 'ner' && (value === undefined || (Array.isArray(value) && !value.length))) { say('Pick a label first.', true); return; }
  busy = true;
  try {
    const res = await api(`/api/assignments/${current.assignment_id}/submit`,
      {value, lead_time: Math.round(performance.now() - shownAt) / 1000});
    say('Saved.'); show(res.next);
  } catch (e) { say(e.message, true); } finally { busy = false; }
}

async function skip() {
  if (!current || busy) return;
  busy = true;
  try {
    const res = await api(`/api/assignments/${current.assignment_id}/skip`, {reason: $('skip-reason').value});
    say(`Skipped (${$('skip-reason').value}).`); show(res.next);
  } catch (e) { say(e.message, true); } finally { busy = false; }
}

function undo() { if (task === 'ner') spans.pop(); else selected.pop(); draw(); }

async function next() { try { show(await api('/api/next', {})); } catch (e) { say(e.message, true); } }

async function start() {
  schema = await api('/api/schema');
  renderGuide($('guide'), schema);
  $('labels').replaceChildren(...schema.labels.map((l) => el('button', {type: 'button', 'data-label': l.name,
    style: `--c:${l.color || '#888'}`, onclick: () => choose(l.name)}, l.name, ' ', l.hotkey ? el('kbd', {}, l.hotkey) : '')));
  $('submit').onclick = submit; $('skip').onclick = skip; $('undo').onclick = undo;
  // Once a reason is picked, give the keyboard back to the page so 's' (and every hotkey) works.
  $('skip-reason').onchange = () => $('skip-reason').blur();
  document.addEventListener('keydown', (ev) => {
    if (ev.target.closest('input, select, textarea') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const key = ev.key.toLowerCase();
    const lab = schema.labels.find((l) => l.hotkey && l.hotkey.toLowerCase() === key);
    if (lab) { ev.preventDefault(); choose(lab.name); }
    else if (ev.key === 'Enter') { ev.preventDefault(); submit(); }
    else if (key === 's') { ev.preventDefault(); skip(); }
    else if (key === 'u') { ev.preventDefault(); undo(); }
    else if (key === 'n') { ev.preventDefault(); next(); }
  });
  await next();
}

start().catch((e) => say(e.message, true));
