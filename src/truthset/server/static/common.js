// Shared helpers for the pages. Item text is only ever set with textContent (never innerHTML),
// so data containing HTML or script stays inert.
export const csrf = document.querySelector('meta[name="csrf-token"]').content;

export async function api(path, body) {
  const res = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    // through the CSSOM: a Content-Security-Policy without 'unsafe-inline' blocks style attributes
    else if (k === 'style') node.style.cssText = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

export function renderGuide(target, schema) {
  target.replaceChildren(el('h2', {}, 'Guide'));
  if (schema.instructions) target.append(el('p', {}, schema.instructions));
  for (const lab of schema.labels) {
    const box = el('div', {class: 'glabel', style: `--c:${lab.color || '#888'}`});
    box.append(el('h3', {}, lab.name, ' ', lab.hotkey ? el('kbd', {}, lab.hotkey) : ''));
    box.append(el('p', {}, lab.definition || 'No definition yet.'));
    if (lab.include.length) box.append(el('p', {class: 'inc'}, 'Is: ' + lab.include.join(' · ')));
    if (lab.exclude.length) box.append(el('p', {class: 'exc'}, 'Is not: ' + lab.exclude.join(' · ')));
    if (lab.tie_break) box.append(el('p', {class: 'tie'}, 'When in doubt: ' + lab.tie_break));
    target.append(box);
  }
}
