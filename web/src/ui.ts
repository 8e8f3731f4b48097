// Small DOM helpers shared by the views: loading and error states, tables, bars.

import { ApiError } from './api';
import { esc } from './format';

export function loading(el: HTMLElement, what = 'Loading'): void {
  el.innerHTML = `<p class="state" role="status"><span class="spinner" aria-hidden="true"></span>${esc(what)}…</p>`;
}

export function failed(el: HTMLElement, e: unknown, retry?: () => void): void {
  const err = e instanceof ApiError ? e : new ApiError('INTERNAL', String(e));
  const hint: Record<string, string> = {
    FORBIDDEN: 'Your role or project does not allow this.',
    NETWORK: 'Check your connection.',
    BAD_USER_INPUT: 'Check the values you entered.',
    RATE_LIMITED: 'Too many requests: wait a moment.',
  };
  el.innerHTML = `<div class="error" role="alert"><strong>${esc(err.code)}</strong>: ${esc(err.message)} ${esc(hint[err.code] ?? '')}
    ${retry ? '<button type="button" class="retry">Retry</button>' : ''}</div>`;
  el.querySelector<HTMLButtonElement>('.retry')?.addEventListener('click', retry ?? (() => {}));
}

/// Runs `load` with loading and error states around it.
export async function guarded(el: HTMLElement, load: () => Promise<void>, what?: string): Promise<void> {
  loading(el, what);
  try {
    await load();
  } catch (e) {
    failed(el, e, () => void guarded(el, load, what));
  }
}

export function table(caption: string, head: string[], rows: (string | number)[][], testid = ''): string {
  if (rows.length === 0) return `<p class="empty">${esc(caption)}: no data in this range.</p>`;
  return `<table ${testid ? `data-testid="${esc(testid)}"` : ''}><caption>${esc(caption)}</caption>
    <thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>
    <tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('')}</tbody></table>`;
}

/// Horizontal bars (values relative to the largest), readable without colour. Their widths are
/// `data-w` attributes: call `styleVars` once the markup is in the page.
export function bars(caption: string, rows: { label: string; value: number; text: string }[]): string {
  if (rows.length === 0) return `<p class="empty">${esc(caption)}: no data in this range.</p>`;
  const max = Math.max(...rows.map((r) => r.value), 1);
  return `<figure class="bars"><figcaption>${esc(caption)}</figcaption><ul>${rows
    .map((r) => `<li><span class="bar-label">${esc(r.label)}</span><span class="bar" data-w="${((r.value / max) * 100).toFixed(1)}%"></span><span class="bar-value">${esc(r.text)}</span></li>`)
    .join('')}</ul></figure>`;
}

/// Sets the CSS variables markup carries as data attributes (`data-w`: a bar's width, `data-a`: a
/// heat cell's strength) through the CSSOM, which the server's CSP allows, where a `style`
/// attribute in markup is refused (`style-src-attr`).
export function styleVars(root: ParentNode): void {
  for (const e of root.querySelectorAll<HTMLElement>('[data-w]')) e.style.setProperty('--w', e.dataset.w ?? '0');
  for (const e of root.querySelectorAll<HTMLElement>('[data-a]')) e.style.setProperty('--a', e.dataset.a ?? '0');
}
