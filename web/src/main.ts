// The dashboard shell: login, project and range pickers, role-aware navigation and a hash
// router. Views live in src/views and render into <main>.

import './style.css';
import { ApiError, closeLive, gql, loadSession, saveSession, whenSignedOut } from './api';
import { esc } from './format';
import { customRange, isValidTimeZone, localTimeZone, PRESETS, presetRange, type Preset, type Range } from './range';
import { LABELS, viewsFor, type View } from './roles';
import { failed, guarded } from './ui';
import { behaviour, funnel, pages, retention } from './views/analytics';
import { accounts, auditLog, deadLetters, projects } from './views/admin';
import { events, live, users } from './views/raw';
import type { Ctx } from './views/ctx';
import { overviewPage } from './overview/page';
import { pinPrefs, prefs } from './urlstate';
import { heatmapPage } from './maps/heatmap';
import { journeysPage } from './maps/journeys';
import { sharedPage, shareTokenOf } from './views/shared';
import { shareLinksView } from './views/sharing';

const app = document.getElementById('app')!;

let ctx: Ctx | null = null;

whenSignedOut(() => login('Your session expired: please sign in again.'));

function login(notice = ''): void {
  ctx?.cleanup?.();
  ctx = null;
  document.title = 'Sign in · Sightline';
  app.innerHTML = `<main id="main" class="login"><form id="login" class="panel" novalidate>
    <h1>Sightline</h1>${notice ? `<p class="notice" role="status">${esc(notice)}</p>` : ''}
    <label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
    <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button><div id="msg" aria-live="assertive"></div><div id="sso"></div></form></main>`;
  const form = app.querySelector<HTMLFormElement>('#login')!;
  form.querySelector<HTMLInputElement>('#email')!.focus();
  void offerSingleSignOn(form.querySelector<HTMLElement>('#sso')!);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = form.querySelector<HTMLInputElement>('#email')!.value.trim();
    const password = form.querySelector<HTMLInputElement>('#password')!.value;
    const msg = form.querySelector<HTMLElement>('#msg')!;
    if (!email || !password) { msg.innerHTML = '<p class="error" role="alert">Enter your email and password.</p>'; return; }
    msg.innerHTML = '<p class="state" role="status">Signing in…</p>';
    try {
      // The token goes into an HttpOnly cookie (`cookie: true`), out of this page's reach.
      const d = await gql<{ login: { expiresAt: string; role: string } }>(
        `mutation($e: String!, $p: String!) { login(email: $e, password: $p, cookie: true) { expiresAt role } }`, { e: email, p: password });
      closeLive();
      saveSession({ ...d.login, email });
      location.hash = '#/overview';
      void start();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') msg.innerHTML = '<p class="error" role="alert">Wrong email or password.</p>';
      else if (e instanceof ApiError && e.code === 'RATE_LIMITED') msg.innerHTML = `<p class="error" role="alert">${esc(e.message)}</p>`;
      else failed(msg, e);
    }
  });
}

/// "Sign in with SSO" when the server has single sign-on: a plain link (a navigation, not a
/// form: the provider's pages are another origin, which the policy's form-action forbids).
async function offerSingleSignOn(box: HTMLElement): Promise<void> {
  try {
    const d = await gql<{ singleSignOn: { loginUrl: string } | null }>('{ singleSignOn { loginUrl } }');
    if (d.singleSignOn && box.isConnected) {
      box.innerHTML = `<p class="or">or</p><a class="button" id="sso-login" href="${esc(d.singleSignOn.loginUrl)}">Sign in with SSO</a>`;
    }
  } catch {
    // Without the answer the password form is all there is.
  }
}

/// Back from single sign-on (`/#/sso`): the session cookie is set; `me` says who and until when.
async function adoptSingleSignOn(): Promise<boolean> {
  try {
    const d = await gql<{ me: { subject: string; role: string; expiresAt: string | null } }>('{ me { subject role expiresAt } }');
    if (!d.me.expiresAt) return false;
    saveSession({ email: d.me.subject, role: d.me.role, expiresAt: d.me.expiresAt });
    return true;
  } catch {
    return false;
  }
}

/// A shared link's page (`#/share/<token>`) needs no session: it is shown whoever is signed in.
/// Leaving it for another page (editing the URL) reloads the dashboard as itself.
async function startShared(token: string): Promise<void> {
  const cleanup = await sharedPage(app, token);
  window.onhashchange = () => {
    if (shareTokenOf(location.hash) === token) return;
    cleanup();
    location.reload();
  };
}

async function start(): Promise<void> {
  const shared = shareTokenOf(location.hash);
  if (shared) return startShared(shared);
  if (location.hash === '#/sso' && !loadSession()) {
    const adopted = await adoptSingleSignOn();
    history.replaceState(null, '', '#/overview');
    if (!adopted) return login('Single sign-on did not complete: please sign in again.');
  }
  const session = loadSession();
  if (!session) return login();
  app.innerHTML = '<p class="state" role="status">Loading…</p>';
  let me: { role: string; projects: string[] | null };
  let list: { id: string; name: string }[];
  try {
    const d = await gql<{ me: { role: string; projects: string[] | null }; projects: { id: string; name: string }[] }>(`{ me { role projects } projects { id name } }`);
    me = d.me;
    list = d.projects;
  } catch (e) {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') return;
    return failed(app, e, () => void start());
  }
  shell(session.email, me.role, me.projects === null, list);
}

function currentRange(): Range {
  const tz = prefs.get('tz') ?? localTimeZone();
  const custom = prefs.get('custom');
  if (prefs.get('preset') === 'custom' && custom) {
    const [a, b] = custom.split('..');
    const r = customRange(a, b, tz);
    if (typeof r !== 'string') return r;
  }
  return presetRange((prefs.get('preset') as Preset) ?? '7d', tz);
}

function shell(email: string, role: string, allProjects: boolean, list: { id: string; name: string }[]): void {
  const views = viewsFor(role, allProjects);
  let project = prefs.get('project');
  if (!list.some((p) => p.id === project)) project = list[0]?.id ?? '';
  const preset = prefs.get('preset') ?? '7d';
  if (project) pinPrefs(project, preset, prefs.get('custom'), prefs.get('tz') ?? localTimeZone());
  app.innerHTML = `<header class="top">
      <a class="brand" href="#/overview">Sightline</a>
      <label class="sr" for="project">Project</label>
      <select id="project" data-testid="project">${list.map((p) => `<option value="${esc(p.id)}" ${p.id === project ? 'selected' : ''}>${esc(p.name)}</option>`).join('')}</select>
      <label class="sr" for="preset">Date range</label>
      <select id="preset">${PRESETS.map((p) => `<option value="${p.id}" ${p.id === preset ? 'selected' : ''}>${p.label}</option>`).join('')}<option value="custom" ${preset === 'custom' ? 'selected' : ''}>Custom…</option></select>
      <span id="customBox" ${preset === 'custom' ? '' : 'hidden'}><label class="sr" for="cfrom">From</label><input id="cfrom" type="date"> <label class="sr" for="cto">To</label><input id="cto" type="date"></span>
      <label class="sr" for="tz">Time zone</label><input id="tz" value="${esc(prefs.get('tz') ?? localTimeZone())}" size="16" aria-describedby="tzhelp"><span id="tzhelp" class="sr">IANA time zone, for example Europe/Paris</span>
      <span class="who">${esc(email)} · <span data-testid="role">${esc(role)}</span></span>
      <button type="button" id="logout">Sign out</button>
    </header>
    <nav aria-label="Views"><ul>${views.map((v) => `<li><a href="#/${v}" data-view="${v}">${LABELS[v]}</a></li>`).join('')}</ul></nav>
    <main id="main" tabindex="-1"></main>`;
  const main = app.querySelector<HTMLElement>('#main')!;
  const [cfrom, cto] = (prefs.get('custom') ?? '').split('..');
  if (cto) { app.querySelector<HTMLInputElement>('#cfrom')!.value = cfrom; app.querySelector<HTMLInputElement>('#cto')!.value = cto; }
  const rerender = () => void route(main, views, project ?? '', role, allProjects);
  app.querySelector<HTMLSelectElement>('#project')!.addEventListener('change', (e) => { project = (e.target as HTMLSelectElement).value; prefs.set('project', project); rerender(); });
  app.querySelector<HTMLSelectElement>('#preset')!.addEventListener('change', (e) => {
    const v = (e.target as HTMLSelectElement).value;
    prefs.set('preset', v);
    app.querySelector<HTMLElement>('#customBox')!.hidden = v !== 'custom';
    if (v !== 'custom') rerender();
  });
  for (const id of ['#cfrom', '#cto']) {
    app.querySelector<HTMLInputElement>(id)!.addEventListener('change', () => {
      const a = app.querySelector<HTMLInputElement>('#cfrom')!.value;
      const b = app.querySelector<HTMLInputElement>('#cto')!.value;
      if (a && b) { prefs.set('custom', `${a}..${b}`); rerender(); }
    });
  }
  app.querySelector<HTMLInputElement>('#tz')!.addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    if (isValidTimeZone(input.value.trim())) { input.removeAttribute('aria-invalid'); prefs.set('tz', input.value.trim()); rerender(); }
    else input.setAttribute('aria-invalid', 'true');
  });
  app.querySelector('#logout')!.addEventListener('click', async () => {
    // The cookie is HttpOnly: only the server can clear it.
    await gql('mutation { logout }').catch(() => undefined);
    saveSession(null);
    closeLive();
    login();
  });
  window.onhashchange = rerender;
  if (!project) { main.innerHTML = '<p class="empty">You have no project yet.</p>'; if (views.includes('projects')) location.hash = '#/projects'; }
  rerender();
}

async function route(main: HTMLElement, views: View[], project: string, role: string, allProjects: boolean): Promise<void> {
  ctx?.cleanup?.();
  const wanted = location.hash.replace(/^#\//, '') as View;
  const view: View = views.includes(wanted) ? wanted : views[0];
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${LABELS[view] ?? 'Sightline'} · Sightline`;
  ctx = { project, range: currentRange(), role, allProjects };
  const c = ctx;
  const render: Record<View, () => Promise<void>> = {
    overview: () => overviewPage(main, c), pages: () => pages(main, c), behaviour: () => behaviour(main, c),
    funnel: () => funnel(main, c), retention: () => retention(main, c), users: () => users(main, c),
    events: () => events(main, c), live: () => live(main, c), projects: () => projects(main, c, addProjectOption),
    accounts: () => accounts(main, c), deadletters: () => deadLetters(main, c), audit: () => auditLog(main, c),
    heatmap: () => heatmapPage(main, c), journeys: () => journeysPage(main, c),
    sharing: () => shareLinksView(main, c),
  };
  if (!view) { main.innerHTML = '<p class="empty">This account has no dashboard views (service accounts use the API).</p>'; return; }
  await guarded(main, render[view]);
}

/// A project created on the Projects page joins the picker without leaving the page.
function addProjectOption(id: string, name: string): void {
  const select = document.querySelector<HTMLSelectElement>('#project');
  if (select && ![...select.options].some((o) => o.value === id)) select.append(new Option(name, id));
}

void start();
