// Spans (NER) on a text: drawing them and turning a text selection into one. Shared by the
// annotate and review pages. Offsets count characters (code points), as the server does; a JS
// string's length counts UTF-16 units, which would put every span after an emoji one place off.
// Only text nodes and elements are made (never HTML from data), and colours are set through the
// CSSOM (style.setProperty), which a Content-Security-Policy without 'unsafe-inline' allows.
import {el} from './common.js';

export const spanKey = (s) => `${s.start}:${s.end}:${s.label}`;

export function sortSpans(spans) {
  return [...spans].sort((a, b) => a.start - b.start || a.end - b.end || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

export const spanText = (text, s) => [...text].slice(s.start, s.end).join('');

// Draw `text` into `target` with `spans` highlighted. The text is cut at every span boundary;
// each piece covered by spans becomes one <mark> (data-label: the labels covering it, data-spans:
// their indexes in `spans`), so overlapping spans are all shown. Options: `colors` (label ->
// #rrggbb), `disputed(span)` (adds class "disputed"), `chosen` (index of a span to outline).
export function renderSpans(target, text, spans, {colors = {}, disputed = () => false, chosen = -1} = {}) {
  const chars = [...text];
  const cuts = new Set([0, chars.length]);
  for (const s of spans) { cuts.add(Math.max(0, Math.min(s.start, chars.length))); cuts.add(Math.max(0, Math.min(s.end, chars.length))); }
  const at = [...cuts].sort((a, b) => a - b);
  const parts = [];
  for (let k = 0; k + 1 < at.length; k++) {
    const a = at[k], b = at[k + 1], piece = chars.slice(a, b).join('');
    const over = spans.map((s, i) => [s, i]).filter(([s]) => s.start <= a && s.end >= b);
    if (!over.length) { parts.push(document.createTextNode(piece)); continue; }
    const labels = over.map(([s]) => s.label);
    const classes = [over.some(([s]) => disputed(s)) ? 'disputed' : '', over.length > 1 ? 'overlap' : '',
      over.some(([, i]) => i === chosen) ? 'chosen' : ''].filter(Boolean).join(' ');
    const mark = el('mark', {'data-label': labels.join(' '), 'data-spans': over.map(([, i]) => i).join(' '),
      title: labels.join(', ')}, piece);
    if (classes) mark.className = classes;
    const color = colors[labels[labels.length - 1]];
    if (color) mark.style.setProperty('--c', color);
    parts.push(mark);
  }
  target.replaceChildren(...parts);
}

// The current text selection as character offsets into the text drawn in `box` (leading and
// trailing white space left out), or null when nothing inside `box` is selected.
export function selectedSpan(box) {
  const sel = window.getSelection();
  if (!sel || sel.isCollapsed || !sel.rangeCount) return null;
  const range = sel.getRangeAt(0);
  if (!box.contains(range.startContainer) || !box.contains(range.endContainer)) return null;
  const pre = document.createRange();
  pre.selectNodeContents(box); pre.setEnd(range.startContainer, range.startOffset);
  let start = [...pre.toString()].length, end = start + [...range.toString()].length;
  const chars = [...box.textContent];
  while (start < end && /\s/.test(chars[start])) start++;
  while (end > start && /\s/.test(chars[end - 1])) end--;
  return end > start ? {start, end} : null;
}

// The first span of `spans` that overlaps `span` (and is not the very same range), or undefined.
export const overlapping = (spans, span) => spans.find((s) => s.start < span.end && span.start < s.end
  && !(s.start === span.start && s.end === span.end));
