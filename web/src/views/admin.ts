// Administration (admins): projects and their tracker snippet, accounts and roles, the
// queue (pause/resume storage) and its dead letters, the audit log.

import { gql } from '../api';
import { dateTime, esc } from '../format';
import { failed, guarded, table } from '../ui';
import type { Ctx } from './ctx';
import { shareLinksPanel } from './sharing';
import type {
  CreateAccountMutation, CreateProjectMutation, DeadLettersQuery, ProjectsQuery, QueueStateQuery,
  RotateKeysMutation, UpdateOriginsMutation,
} from '../generated/graphql';

const PROJECT_FIELDS = /* GraphQL */ `fragment ProjectFields on Project { id name publicKey allowedOrigins retentionDays snippet(host: $host) }`;
const PROJECTS = /* GraphQL */ `query Projects($host: String) { projects { ...ProjectFields } }`;
const CREATE_PROJECT = /* GraphQL */ `mutation CreateProject($n: String!, $o: [String!]!, $host: String) {
  createProject(name: $n, allowedOrigins: $o) { project { ...ProjectFields } secretKey } }`;

export async function projects(el: HTMLElement, ctx: Ctx, onCreated: (id: string, name: string) => void): Promise<void> {
  el.innerHTML = `<h1>Projects</h1>
    ${ctx.allProjects ? `<form id="create" class="panel"><h2>New project</h2><label>Name <input name="name" required></label>
      <label>Allowed origins (comma separated) <input name="origins" placeholder="https://shop.example"></label>
      <button type="submit">Create</button></form>` : ''}
    <section id="created" aria-live="polite"></section><section id="list"></section>`;
  const list = el.querySelector<HTMLElement>('#list')!;
  const created = el.querySelector<HTMLElement>('#created')!;
  const host = location.origin;
  const snippetBox = (p: { snippet: string }, secret?: string) => `<div class="snippet panel" data-testid="snippet"><p>Add this tag to every page of the site:</p><pre><code>${esc(p.snippet)}</code></pre><button type="button" class="copy">Copy snippet</button>${secret ? `<p>Secret key for server-side tracking (shown once): <code data-testid="secret">${esc(secret)}</code></p>` : ''}</div>`;
  const wireCopy = (root: HTMLElement, text: string) => root.querySelector('.copy')?.addEventListener('click', () => void navigator.clipboard?.writeText(text));
  const render = () => guarded(list, async () => {
    const d = await gql<ProjectsQuery>(PROJECTS + PROJECT_FIELDS, { host });
    list.innerHTML = d.projects.map((p) => `<article class="panel" data-project="${esc(p.id)}"><h2>${esc(p.name)}</h2>
      <p>Public key <code>${esc(p.publicKey)}</code> · raw events kept ${p.retentionDays} days</p>
      <form class="origins"><label>Allowed origins <input name="o" value="${esc(p.allowedOrigins.join(', '))}"></label> <button type="submit">Save</button></form>
      <button type="button" class="rotate">Rotate keys</button>${snippetBox(p)}<div class="msg" role="status"></div>
      <details class="share"><summary>Shared links</summary><div class="share-panel"></div></details></article>`).join('');
    for (const art of list.querySelectorAll<HTMLElement>('article')) {
      const id = art.dataset.project!;
      const msg = art.querySelector<HTMLElement>('.msg')!;
      const p = d.projects.find((x) => x.id === id)!;
      wireCopy(art, p.snippet);
      // Loaded when opened: a page of many projects asks for none of their links up front.
      const share = art.querySelector<HTMLDetailsElement>('details.share')!;
      share.addEventListener('toggle', () => {
        const panel = share.querySelector<HTMLElement>('.share-panel')!;
        if (share.open && !panel.hasChildNodes()) void shareLinksPanel(panel, id);
      });
      art.querySelector('.origins')!.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const origins = art.querySelector<HTMLInputElement>('[name=o]')!.value.split(',').map((s) => s.trim()).filter(Boolean);
        gql<UpdateOriginsMutation>(/* GraphQL */ `mutation UpdateOrigins($id: ID!, $o: [String!]) { updateProject(id: $id, allowedOrigins: $o) { id } }`, { id, o: origins })
          .then(() => { msg.textContent = 'Saved.'; }).catch((e) => failed(msg, e));
      });
      art.querySelector('.rotate')!.addEventListener('click', () => {
        if (!confirm('Rotate keys? Sites using the old key stop being counted.')) return;
        gql<RotateKeysMutation>(/* GraphQL */ `mutation RotateKeys($id: ID!) { rotateKeys(id: $id) { secretKey } }`, { id })
          .then((r) => { void render().then(() => { created.innerHTML = `<p class="panel">New secret key (shown once): <code>${esc(r.rotateKeys.secretKey)}</code></p>`; }); })
          .catch((e) => failed(msg, e));
      });
    }
  });
  el.querySelector('#create')?.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target as HTMLFormElement;
    const name = (f.elements.namedItem('name') as HTMLInputElement).value.trim();
    const origins = (f.elements.namedItem('origins') as HTMLInputElement).value.split(',').map((s) => s.trim()).filter(Boolean);
    void guarded(created, async () => {
      const r = await gql<CreateProjectMutation>(
        CREATE_PROJECT + PROJECT_FIELDS,
        { n: name, o: origins, host });
      created.innerHTML = `<h2>Created ${esc(r.createProject.project.name)}</h2>${snippetBox(r.createProject.project, r.createProject.secretKey)}`;
      wireCopy(created, r.createProject.project.snippet);
      f.reset();
      onCreated(r.createProject.project.id, r.createProject.project.name);
      await render();
    }, 'Creating');
  });
  await render();
}

export async function accounts(el: HTMLElement, _ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Accounts</h1><form id="create" class="panel"><h2>New account</h2>
    <label>Email <input name="email" type="email" required autocomplete="off"></label>
    <label>Password <input name="password" type="password" minlength="12" required autocomplete="new-password"></label>
    <label>Role <select name="role"><option value="VIEWER">viewer</option><option value="ANALYST">analyst</option><option value="SERVICE">service</option><option value="ADMIN">admin</option></select></label>
    <label>Project ids (comma separated; empty for admins) <input name="projects"></label>
    <button type="submit">Create</button><div class="msg" role="status"></div></form><section id="list"></section>`;
  const list = el.querySelector<HTMLElement>('#list')!;
  const render = () => guarded(list, async () => {
    const d = await gql<{ accounts: { id: string; email: string; role: string; projectIds: string[] | null; createdAt: string; disabledAt: string | null }[] }>(`{ accounts { id email role projectIds createdAt disabledAt } }`);
    list.innerHTML = table('Accounts', ['Email', 'Role', 'Projects', 'Created', 'State', 'Actions'], d.accounts.map((a) => [a.email, a.role, a.projectIds ? a.projectIds.join(', ') : 'all', dateTime(a.createdAt, 'UTC'), a.disabledAt ? 'disabled' : 'active', '']), 'accounts');
    // Each account's actions: disabling and signing out end its sessions at once.
    const rows = list.querySelectorAll<HTMLTableRowElement>('tbody tr');
    d.accounts.forEach((a, i) => {
      const cell = rows[i]?.cells[5];
      if (!cell) return;
      cell.innerHTML = `<button type="button" data-act="${a.disabledAt ? 'enableAccount' : 'disableAccount'}">${a.disabledAt ? 'Enable' : 'Disable'}</button>
        <button type="button" data-act="signOutEverywhere">Sign out everywhere</button>`;
      for (const b of cell.querySelectorAll<HTMLButtonElement>('button')) {
        b.addEventListener('click', () => {
          const act = b.dataset.act!;
          const field = act === 'signOutEverywhere' ? 'signOutEverywhere(accountId: $id)' : `${act}(id: $id) { id }`;
          gql(`mutation($id: ID!) { ${field} }`, { id: a.id }).then(() => render()).catch((e) => failed(list, e));
        });
      }
    });
  });
  el.querySelector('#create')!.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = ev.target as HTMLFormElement;
    const v = (n: string) => (f.elements.namedItem(n) as HTMLInputElement).value.trim();
    const ids = v('projects').split(',').map((s) => s.trim()).filter(Boolean);
    const msg = f.querySelector<HTMLElement>('.msg')!;
    gql<CreateAccountMutation>(/* GraphQL */ `mutation CreateAccount($e: String!, $p: String!, $r: Role!, $ids: [ID!]) { createAccount(email: $e, password: $p, role: $r, projectIds: $ids) { id } }`,
      { e: v('email'), p: v('password'), r: v('role'), ids: ids.length ? ids : null })
      .then(() => { msg.textContent = 'Created.'; f.reset(); void render(); })
      .catch((e) => failed(msg, e));
  });
  await render();
}

export async function deadLetters(el: HTMLElement, _ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Dead letters</h1>
    <section class="panel" id="queue"><h2>Queue</h2><p data-testid="queue-state"></p>
      <button type="button" id="pause"></button> <span class="msg" role="status"></span>
      <p>Pausing stops storage and the workers' upkeep (partitions, retention) for database work: beacons are still accepted and wait in Redis until resumed.</p></section>
    <p>Jobs the worker gave up on after its retries. Retry them once the cause is fixed, or discard them.</p>
    <div class="toolbar"><button type="button" id="retry">Retry all</button> <button type="button" id="discard">Discard all</button></div><section id="list"></section>`;
  const list = el.querySelector<HTMLElement>('#list')!;
  const queue = el.querySelector<HTMLElement>('#queue')!;
  const stateLine = queue.querySelector<HTMLElement>('[data-testid=queue-state]')!;
  const pause = queue.querySelector<HTMLButtonElement>('#pause')!;
  let paused = false;
  const showQueue = () => gql<QueueStateQuery>(/* GraphQL */ `query QueueState { queueState { paused waiting active delayed failed } }`)
    .then(({ queueState: q }) => {
      paused = q.paused;
      stateLine.dataset.paused = String(q.paused);
      stateLine.textContent = `Storage ${q.paused ? 'paused' : 'running'} · ${q.waiting} jobs waiting · ${q.active} being stored · ${q.delayed} to retry · ${q.failed} dead letters`;
      pause.textContent = q.paused ? 'Resume storage' : 'Pause storage';
    })
    .catch((e) => failed(queue.querySelector<HTMLElement>('.msg')!, e));
  pause.addEventListener('click', () => {
    gql(paused ? /* GraphQL */ `mutation ResumeQueue { resumeQueue }` : /* GraphQL */ `mutation PauseQueue { pauseQueue }`)
      .then(showQueue)
      .catch((e) => failed(queue.querySelector<HTMLElement>('.msg')!, e));
  });
  void showQueue();
  const render = () => guarded(list, async () => {
    const d = await gql<DeadLettersQuery>(/* GraphQL */ `query DeadLetters { deadLetters(limit: 100) { id reason failedAt data } }`);
    if (d.deadLetters.length === 0) { list.innerHTML = '<p class="empty">The dead-letter queue is empty.</p>'; return; }
    list.innerHTML = d.deadLetters.map((j) => `<details class="panel"><summary>Job ${esc(j.id)}: ${esc(j.reason)} (${esc(dateTime(j.failedAt, 'UTC'))})</summary><pre>${esc(j.data.slice(0, 4000))}</pre>
      <button type="button" data-act="retry" data-id="${esc(j.id)}">Retry</button> <button type="button" data-act="discard" data-id="${esc(j.id)}">Discard</button></details>`).join('');
    for (const b of list.querySelectorAll<HTMLButtonElement>('button[data-act]')) {
      b.addEventListener('click', () => act(b.dataset.act!, [b.dataset.id!]));
    }
  });
  const act = (what: string, ids: string[] | null) =>
    gql(what === 'retry' ? /* GraphQL */ `mutation RetryDeadLetters($ids: [ID!]) { retryDeadLetters(ids: $ids) }` : /* GraphQL */ `mutation DiscardDeadLetters($ids: [ID!]) { discardDeadLetters(ids: $ids) }`, { ids }).then(render).catch((e) => failed(list, e));
  el.querySelector('#retry')!.addEventListener('click', () => void act('retry', null));
  el.querySelector('#discard')!.addEventListener('click', () => { if (confirm('Discard every dead letter?')) void act('discard', null); });
  await render();
}

interface AuditEntry { id: string; at: string; actor: string; action: string; projectIds: string[]; target: string | null; ip: string | null; detail: unknown }

/// The audit log, newest first, a page at a time; optionally only the selected project's entries.
export async function auditLog(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Audit log</h1>
    <p>Administrative actions and sign-ins: who, when, from which address.${ctx.allProjects ? '' : ' You see the entries of your projects.'}</p>
    <div class="toolbar"><label><input type="checkbox" id="only"> Only the selected project</label></div>
    <section id="list"></section><button type="button" id="more" hidden>Older entries</button>`;
  const list = el.querySelector<HTMLElement>('#list')!;
  const more = el.querySelector<HTMLButtonElement>('#more')!;
  const only = el.querySelector<HTMLInputElement>('#only')!;
  let rows: AuditEntry[] = [];
  let cursor: string | null = null;
  const page = async (reset: boolean) => {
    if (reset) { rows = []; cursor = null; }
    const d = await gql<{ auditLog: { entries: AuditEntry[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(
      `query($p: ID, $a: String) { auditLog(projectId: $p, first: 50, after: $a) { entries { id at actor action projectIds target ip detail } pageInfo { hasNextPage endCursor } } }`,
      { p: only.checked ? ctx.project : null, a: cursor });
    rows = rows.concat(d.auditLog.entries);
    cursor = d.auditLog.pageInfo.endCursor;
    more.hidden = !d.auditLog.pageInfo.hasNextPage;
    list.innerHTML = rows.length === 0 ? '<p class="empty">No entries.</p>' : table('Audit log',
      ['When (UTC)', 'Who', 'Action', 'Projects', 'Target', 'Address', 'Detail'],
      rows.map((e) => [dateTime(e.at, 'UTC'), e.actor, e.action, e.projectIds.join(', ') || 'all', e.target ?? '', e.ip ?? '', JSON.stringify(e.detail)]),
      'audit');
  };
  only.addEventListener('change', () => void guarded(list, () => page(true)));
  more.addEventListener('click', () => { page(false).catch((e) => failed(list, e)); });
  await guarded(list, () => page(true));
}
