// Reviewing an NER item: each annotator's spans on a line of their own, the spans not shared by
// every annotator marked, and an adjudication line the reviewer edits. Keyboard first:
// ↑/↓ choose a line, Enter adjudicates with it, = copies an annotator's line into the
// adjudication, a label's hotkey marks the selected text, ←/→ pick a span, Delete removes it,
// u undoes, n moves on. Built from text nodes and elements only (item data is never HTML).
import {el} from './common.js';
import {overlapping, renderSpans, selectedSpan, sortSpans, spanKey, spanText} from './spans.js';

const $ = (id) => document.getElementById(id);
const bare = (spans) => sortSpans(spans.filter((s) => s && typeof s === 'object')
  .map(({start, end, label}) => ({start, end, label})));

// `adjudicate(value, annotationId, message)`, `reject(annotationId)` and `next()` are the page's
// verdict calls; `say(message, isError)` writes the status line.
export function nerReview({schema, say, adjudicate, reject, next}) {
  const colors = Object.fromEntries(schema.labels.map((l) => [l.name, l.color]));
  let text = '', lines = [], agreed = new Set(), edit = [], history = [], cursor = 0, chosen = -1, active = false;
  const editorLine = () => lines.length;

  $('labels').replaceChildren(...schema.labels.map((l) => {
    const b = el('button', {type: 'button', 'data-label': l.name, onclick: () => addSpan(l.name)},
      l.name, ' ', l.hotkey ? el('kbd', {}, l.hotkey) : '');
    if (l.color) b.style.setProperty('--c', l.color);
    return b;
  }));
  $('item').addEventListener('click', (ev) => {
    const mark = ev.target.closest('mark');
    if (!mark || !active || !window.getSelection().isCollapsed) return;
    chosen = Number(mark.dataset.spans.split(' ').pop()); cursor = editorLine(); draw();
  });

  function show(item, itemText) {
    text = itemText; active = true;
    const current = item.annotations.filter((a) => a.current);
    lines = [...current.filter((a) => a.source !== 'review'), ...current.filter((a) => a.source === 'review')]
      .map((a) => ({who: a.annotator, id: a.annotation_id, source: a.source, spans: bare(Array.isArray(a.value) ? a.value : [])}));
    const shared = (item.spans || []).filter((s) => s.agreed);
    agreed = new Set(shared.map(spanKey));
    edit = bare(shared); history = []; chosen = -1; cursor = editorLine();
    $('labels').classList.remove('hidden');
    draw();
  }

  function clear() {
    active = false; lines = []; edit = [];
    $('lines').replaceChildren(); $('spans').replaceChildren(); $('labels').classList.add('hidden');
    $('item').textContent = 'Nothing to review.';
  }

  function lineRow(line, i) {
    const isDisputed = (s) => !agreed.has(spanKey(s));
    const box = el('div', {class: 'text ner-text'});
    renderSpans(box, text, line.spans, {colors, disputed: isDisputed});
    const open = line.spans.filter(isDisputed).length;
    const kind = line.source === 'review' ? ' (adjudicated earlier)' : line.source === 'human' ? '' : ` (${line.source})`;
    const row = el('div', {class: i === cursor ? 'line cursor' : 'line', 'data-annotator': line.who,
      'data-annotation-id': line.id},
      el('div', {class: 'who'}, el('strong', {}, line.who), kind, ' ', el('span', {class: 'meta summary'},
        `${line.spans.length} span(s)` + (open ? `, ${open} not shared by all` : ''))),
      box,
      el('div', {class: 'actions'},
        el('button', {type: 'button', class: 'accept', onclick: () => adjudicateLine(i)}, 'Accept these spans'),
        el('button', {type: 'button', class: 'secondary copy', onclick: () => copyLine(i)}, 'Edit from these'),
        line.source === 'review' ? '' : el('button', {type: 'button', class: 'secondary reject',
          onclick: () => reject(line.id)}, 'Reject')));
    row.setAttribute('role', 'option');
    row.setAttribute('aria-selected', String(i === cursor));
    return row;
  }

  function draw() {
    if (!active) return;
    $('lines').replaceChildren(...lines.map(lineRow));
    $('editor').classList.toggle('cursor', cursor === editorLine());
    $('editor').setAttribute('aria-selected', String(cursor === editorLine()));
    renderSpans($('item'), text, edit, {colors, chosen});
    $('spans').replaceChildren(...edit.map((s, i) => {
      const what = `${s.label}: ${spanText(text, s)}`;
      const remove = el('button', {type: 'button', class: 'x', title: 'remove', onclick: () => removeSpan(i)}, '×');
      remove.setAttribute('aria-label', `remove ${what}`);
      return el('span', {class: i === chosen ? 'chip chosen' : 'chip', 'data-i': i}, el('span', {class: 'what'}, what), ' ', remove);
    }));
  }

  function remember() { history.push(edit.map((s) => ({...s}))); }

  function addSpan(label) {
    if (!active) return;
    const sel = window.getSelection();
    const node = sel && sel.rangeCount ? sel.getRangeAt(0).startContainer : null;
    const box = (node && (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement))?.closest('.ner-text');
    const span = box ? selectedSpan(box) : null;
    if (!span) { say('Select some text first, then press a label key.', true); return; }
    const s = {...span, label};
    const same = edit.findIndex((x) => x.start === s.start && x.end === s.end && (x.label === label || schema.span_overlap !== 'allow'));
    const clash = schema.span_overlap === 'allow' ? undefined : overlapping(edit, s);
    if (clash) {
      say(`"${spanText(text, s)}" overlaps "${spanText(text, clash)}" (${clash.label}), which this schema forbids; remove that span first.`, true);
      return;
    }
    remember();
    if (same >= 0) edit[same] = s; else edit = sortSpans([...edit, s]);
    chosen = edit.findIndex((x) => spanKey(x) === spanKey(s)); cursor = editorLine();
    sel.removeAllRanges(); say(''); draw();
  }

  function removeSpan(i) {
    remember(); edit = edit.filter((_, k) => k !== i);
    chosen = Math.min(chosen, edit.length - 1); cursor = editorLine(); draw();
  }

  function undo() {
    if (!history.length) { say('Nothing to undo.'); return; }
    edit = history.pop(); chosen = -1; draw();
  }

  function copyLine(i) {
    remember(); edit = lines[i].spans.map((s) => ({...s})); chosen = -1; cursor = editorLine();
    say(`Copied ${lines[i].who}'s spans; edit them, then press Enter.`); draw();
  }

  function adjudicateLine(i) {
    const line = lines[i];
    return adjudicate(line.spans, line.id, `Adjudicated with ${line.who}'s spans.`);
  }

  // Handle a key press; true when it was one of this page's keys.
  function key(ev) {
    const k = ev.key.toLowerCase();
    if (!active) return k === 'n' && (next(), true);
    const lab = schema.labels.find((l) => l.hotkey && l.hotkey.toLowerCase() === k);
    const total = lines.length + 1;
    if (lab) addSpan(lab.name);
    else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      cursor = (cursor + (ev.key === 'ArrowDown' ? 1 : total - 1)) % total; draw();
    } else if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      if (!edit.length) return false;
      const step = ev.key === 'ArrowRight' ? 1 : edit.length - 1;
      chosen = chosen < 0 ? (step === 1 ? 0 : edit.length - 1) : (chosen + step) % edit.length;
      cursor = editorLine(); draw();
    } else if (ev.key === 'Delete' || ev.key === 'Backspace') {
      if (chosen >= 0) removeSpan(chosen); else say('Pick a span first (← →, or click it).', true);
    } else if (ev.key === 'Enter') {
      if (cursor < lines.length) adjudicateLine(cursor);
      else adjudicate(edit, null, 'Adjudicated with the edited spans.');
    } else if (ev.key === '=') {
      if (cursor < lines.length) copyLine(cursor); else say("Choose an annotator's line first (↑ ↓).", true);
    } else if (k === 'u') undo();
    else if (k === 'n') next();
    else return false;
    return true;
  }

  $('correct').onclick = () => adjudicate(edit, null, 'Adjudicated with the edited spans.');
  $('undo').onclick = undo;
  $('next').onclick = () => next();
  return {show, clear, key};
}
