// Shared links of a project (admins and analysts): create one (its URL is shown once, with a
// Copy button), see the project's links and revoke them. The view "Shared links" works on the
// selected project; the Projects page embeds the same panel under each project.

import { gql } from '../api';
import { dateTime, esc } from '../format';
import { failed, guarded } from '../ui';
import type { CreateShareLinkMutation, RevokeShareLinkMutation, ShareLinksQuery } from '../generated/graphql';
import type { Ctx } from './ctx';

const LIST = /* GraphQL */ `query ShareLinks($p: ID!) { shareLinks(projectId: $p) { id label createdBy createdAt revokedAt } }`;
const CREATE = /* GraphQL */ `mutation CreateShareLink($p: ID!, $l: String) { createShareLink(projectId: $p, label: $l) { token path link { id } } }`;
const REVOKE = /* GraphQL */ `mutation RevokeShareLink($id: ID!) { revokeShareLink(id: $id) }`;

/// The full URL of a link's page on this dashboard.
export function shareUrl(origin: string, path: string): string {
  return `${origin.replace(/\/$/, '')}${path}`;
}

export async function shareLinksView(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Shared links</h1>
    <p>A shared link shows this project's overview to anyone who has it, without signing in, read-only.
    It keeps working until you revoke it. Its URL is shown once, when it is created.</p><section id="share"></section>`;
  await shareLinksPanel(el.querySelector<HTMLElement>('#share')!, ctx.project);
}

/// The create form and the list of `project`'s links, rendered into `el`.
export async function shareLinksPanel(el: HTMLElement, project: string): Promise<void> {
  el.innerHTML = `<form class="panel share-create" data-testid="share-create"><h2>New shared link</h2>
      <label>Label (what it is for) <input name="label" maxlength="100" placeholder="Weekly report"></label>
      <button type="submit">Create link</button><div class="msg" role="status" aria-live="polite"></div></form>
    <section class="share-list"></section>`;
  const form = el.querySelector<HTMLFormElement>('form')!;
  const msg = form.querySelector<HTMLElement>('.msg')!;
  const list = el.querySelector<HTMLElement>('.share-list')!;
  const render = () => guarded(list, async () => {
    const d = await gql<ShareLinksQuery>(LIST, { p: project });
    if (d.shareLinks.length === 0) { list.innerHTML = '<p class="empty">No shared links yet.</p>'; return; }
    list.innerHTML = `<table data-testid="share-links"><caption>Shared links</caption>
      <thead><tr><th scope="col">Label</th><th scope="col">Created (UTC)</th><th scope="col">By</th><th scope="col">State</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${d.shareLinks.map((l) => `<tr data-testid="share-link" data-id="${esc(l.id)}" data-revoked="${l.revokedAt ? 'true' : 'false'}">
        <th scope="row">${esc(l.label ?? '(no label)')}</th><td>${esc(dateTime(l.createdAt, 'UTC'))}</td><td>${esc(l.createdBy)}</td>
        <td>${l.revokedAt ? `revoked ${esc(dateTime(l.revokedAt, 'UTC'))}` : 'active'}</td>
        <td>${l.revokedAt ? '' : `<button type="button" class="secondary revoke" aria-label="Revoke ${esc(l.label ?? 'link')}">Revoke</button>`}</td></tr>`).join('')}</tbody></table>`;
    for (const b of list.querySelectorAll<HTMLButtonElement>('button.revoke')) {
      const id = b.closest('tr')!.dataset.id!;
      b.addEventListener('click', () => {
        if (!confirm('Revoke this link? Whoever has it can no longer see the dashboard.')) return;
        gql<RevokeShareLinkMutation>(REVOKE, { id }).then(() => render()).catch((e) => failed(list, e));
      });
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const label = form.querySelector<HTMLInputElement>('[name=label]')!.value.trim();
    msg.textContent = 'Creating…';
    gql<CreateShareLinkMutation>(CREATE, { p: project, l: label || null })
      .then((r) => {
        const url = shareUrl(location.origin, r.createShareLink.path);
        msg.innerHTML = `<div class="notice"><p>Anyone with this link sees the overview, read-only. It is shown this once: copy it now.</p>
          <p><code data-testid="share-url">${esc(url)}</code></p><button type="button" class="copy">Copy link</button></div>`;
        msg.querySelector('.copy')!.addEventListener('click', () => void navigator.clipboard?.writeText(url));
        form.reset();
        void render();
      })
      .catch((e) => failed(msg, e));
  });
  await render();
}
