// A shared link's page, `#/share/<token>`: the project's overview, read-only, without login.
// The token is in the URL's fragment, which the browser never sends to a server (nor in a
// Referer); requests carry it in the X-Sightline-Share header (api.ts). No navigation, no
// administration: the range, the time zone and the overview's own filters are all it offers.
// Range and time zone come from the URL query (`?range=7d&tz=Europe/Paris#/share/...`), as in
// the signed-in dashboard, and are written back there only (nothing is stored).

import { ApiError, gql, useShareToken } from '../api';
import { esc } from '../format';
import { customRange, isValidTimeZone, localTimeZone, PRESETS, presetRange, type Preset, type Range } from '../range';
import { prefFromUrl, prefToUrl } from '../urlstate';
export { shareTokenOf } from '../urlstate';
import { overviewPage } from '../overview/page';
import type { SharedProjectQuery } from '../generated/graphql';
import type { Ctx } from './ctx';

function rangeFromUrl(): Range {
  const tz = prefFromUrl(location.search, 'tz') ?? localTimeZone();
  const custom = prefFromUrl(location.search, 'custom');
  if (custom) {
    const [a, b] = custom.split('..');
    const r = customRange(a, b, isValidTimeZone(tz) ? tz : 'UTC');
    if (typeof r !== 'string') return r;
  }
  const preset = (prefFromUrl(location.search, 'preset') ?? '7d') as Preset;
  return presetRange(preset, isValidTimeZone(tz) ? tz : 'UTC');
}

/// Renders the shared page for `token` into `app`; returns the view's cleanup.
export async function sharedPage(app: HTMLElement, token: string): Promise<() => void> {
  useShareToken(token);
  document.title = 'Shared dashboard · Sightline';
  app.innerHTML = '<p class="state" role="status">Loading…</p>';
  let project: { id: string; name: string };
  try {
    const d = await gql<SharedProjectQuery>(/* GraphQL */ `query SharedProject { projects { id name } }`);
    if (d.projects.length !== 1) throw new ApiError('FORBIDDEN', 'this link names no project');
    project = d.projects[0];
  } catch (e) {
    refused(app, e);
    return () => {};
  }
  const preset = prefFromUrl(location.search, 'preset') ?? '7d';
  app.innerHTML = `<header class="top">
      <span class="brand">Sightline</span>
      <span data-testid="shared-project"><strong>${esc(project.name)}</strong> · <span class="muted">shared view, read-only</span></span>
      <label class="sr" for="preset">Date range</label>
      <select id="preset">${PRESETS.map((p) => `<option value="${p.id}" ${p.id === preset ? 'selected' : ''}>${p.label}</option>`).join('')}${preset === 'custom' ? '<option value="custom" selected>Custom</option>' : ''}</select>
      <label class="sr" for="tz">Time zone</label><input id="tz" value="${esc(rangeFromUrl().timeZone)}" size="16">
    </header>
    <main id="main" tabindex="-1" data-testid="shared"></main>`;
  const main = app.querySelector<HTMLElement>('#main')!;
  let ctx: Ctx | null = null;
  const render = () => {
    ctx?.cleanup?.();
    ctx = { project: project.id, range: rangeFromUrl(), role: 'viewer', allProjects: false };
    void overviewPage(main, ctx).catch((e) => refused(main, e));
  };
  const setUrl = (key: string, value: string) => {
    const next = prefToUrl(location.search, key, value, prefFromUrl(location.search, 'custom'));
    history.replaceState(history.state, '', `${location.pathname}${next}${location.hash}`);
  };
  app.querySelector<HTMLSelectElement>('#preset')!.addEventListener('change', (e) => {
    const v = (e.target as HTMLSelectElement).value;
    if (v !== 'custom') { setUrl('preset', v); render(); }
  });
  app.querySelector<HTMLInputElement>('#tz')!.addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    if (isValidTimeZone(input.value.trim())) { input.removeAttribute('aria-invalid'); setUrl('tz', input.value.trim()); render(); }
    else input.setAttribute('aria-invalid', 'true');
  });
  render();
  return () => ctx?.cleanup?.();
}

/// The page of a link that does not work (revoked, unknown) or of a server that cannot answer.
function refused(el: HTMLElement, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError('INTERNAL', String(e));
  const gone = err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN';
  const box = `<div class="panel error" role="alert" data-testid="share-error" data-code="${esc(err.code)}">
    <h1>${gone ? 'This shared link does not work' : 'The dashboard cannot be shown'}</h1>
    <p>${gone ? 'It was revoked, or it never existed. Ask whoever sent it for a new one.' : esc(err.message)}</p></div>`;
  // The whole page (the link refused at once), or the page's <main> (refused while shown).
  el.innerHTML = el.id === 'main' ? box : `<main id="main" class="login">${box}</main>`;
}
