// The dashboard in a real browser against the real server: login, overview numbers equal the
// GraphQL answers, the live feed shows an ingested event within 2 s, a viewer sees no admin or
// raw-event views, raw events filter by property, creating a project shows a working snippet. Screenshots of the main pages
// (desktop and phone) go to $SIGHTLINE_ARTIFACTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { browser, env } from './helpers.mjs';

const base = () => env('SIGHTLINE_URL');
const shots = () => env('SIGHTLINE_ARTIFACTS');

async function gql(token, query, variables = {}) {
  const r = await fetch(`${base()}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return r.json();
}

async function collect(key, events) {
  const r = await fetch(`${base()}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ key, events }) });
  assert.equal(r.status, 202, await r.text());
}

const ev = (type, extra = {}) => ({ id: randomUUID(), type, ts: Date.now(), anonymous_id: `dash-${randomUUID().slice(0, 8)}`, session_id: `s-${randomUUID().slice(0, 8)}`, url: 'https://shop.example/pricing', ...extra });

async function signIn(page, email, password) {
  await page.goto(`${base()}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('nav').waitFor({ timeout: 10000 });
}

test('an admin signs in; overview cards equal the GraphQL answers; pages are captured', async () => {
  // Some data for this project in the current hour.
  await collect(env('SIGHTLINE_PUBLIC_KEY'), [ev('page.view'), ev('page.view'), ev('element.click', { props: { selector: 'main > button.cta' } })]);
  await new Promise((r) => setTimeout(r, 1500));
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    await signIn(page, env('SIGHTLINE_ADMIN_EMAIL'), env('SIGHTLINE_ADMIN_PASSWORD'));
    await page.locator('[data-testid=card-events]').waitFor({ timeout: 10000 });
    // Same project, same range as the page: read them back from the page's own state.
    const { project, range } = await page.evaluate(() => {
      const project = document.querySelector('#project').value;
      const HOUR = 3600000; const to = Math.floor(Date.now() / HOUR) * HOUR + HOUR;
      const tz = localStorage.getItem('sightline.tz') ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
      return { project, range: { from: new Date(to - 7 * 24 * HOUR).toISOString(), to: new Date(to).toISOString(), timeZone: tz } };
    });
    const o = await gql(env('SIGHTLINE_ADMIN_TOKEN'), 'query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events visitors sessions pageViews } }', { p: project, r: range });
    assert.ok(o.data, JSON.stringify(o));
    for (const [card, k] of [['events', 'events'], ['visitors', 'visitors'], ['sessions', 'sessions'], ['pageViews', 'pageViews']]) {
      const shown = await page.locator(`[data-testid=card-${card}]`).getAttribute('data-value');
      assert.equal(Number(shown), o.data.overview[k], `${k} card equals the API`);
    }
    assert.ok(o.data.overview.events >= 3);
    await page.screenshot({ path: `${shots()}/dashboard-overview.png`, fullPage: true });
    for (const [view, name] of [['pages', 'pages'], ['funnel', 'funnel'], ['retention', 'retention'], ['behaviour', 'scroll'], ['projects', 'projects'], ['deadletters', 'dead-letters'], ['accounts', 'accounts']]) {
      await page.goto(`${base()}/#/${view}`);
      await page.locator('main h1').waitFor();
      await page.waitForFunction(() => !document.querySelector('main .spinner'), null, { timeout: 10000 });
      assert.equal(await page.locator('main [role=alert]').count(), 0, `${view} renders without an error`);
      await page.screenshot({ path: `${shots()}/dashboard-${name}.png`, fullPage: true });
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base()}/#/overview`);
    await page.locator('[data-testid=card-events]').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await page.screenshot({ path: `${shots()}/dashboard-overview-phone.png`, fullPage: true });
  } finally {
    await ctx.close();
  }
});

test('an admin pauses storage from the dashboard: beacons are held, then stored on resume', async () => {
  const ctx = await browser();
  const admin = env('SIGHTLINE_ADMIN_TOKEN');
  try {
    const page = await ctx.newPage();
    await signIn(page, env('SIGHTLINE_ADMIN_EMAIL'), env('SIGHTLINE_ADMIN_PASSWORD'));
    await page.goto(`${base()}/#/deadletters`);
    const state = page.locator('[data-testid=queue-state]');
    await page.locator('[data-testid=queue-state][data-paused=false]').waitFor({ timeout: 10000 });
    await page.getByRole('button', { name: 'Pause storage' }).click();
    await page.locator('[data-testid=queue-state][data-paused=true]').waitFor({ timeout: 5000 });
    assert.match(await state.textContent(), /Storage paused/);
    const q = await gql(admin, '{ queueState { paused } }');
    assert.equal(q.data.queueState.paused, true, JSON.stringify(q));
    const e = ev('element.click', { props: { selector: 'queue > button' } });
    await collect(env('SIGHTLINE_PUBLIC_KEY'), [e]);
    const stored = async () => {
      const r = await gql(admin, 'query($p: ID!, $f: DateTime!, $t: DateTime!) { events(projectId: $p, range: {from: $f, to: $t}, filter: {eventType: "element.click"}, first: 500) { edges { node { id } } } }',
        { p: env('SIGHTLINE_PROJECT_ID'), f: new Date(Date.now() - 3600e3).toISOString(), t: new Date(Date.now() + 3600e3).toISOString() });
      assert.ok(r.data, JSON.stringify(r));
      return r.data.events.edges.some((x) => x.node.id === e.id);
    };
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(await stored(), false, 'not stored while paused');
    await page.getByRole('button', { name: 'Resume storage' }).click();
    await page.locator('[data-testid=queue-state][data-paused=false]').waitFor({ timeout: 5000 });
    let found = false;
    for (let i = 0; i < 50 && !found; i++) {
      found = await stored();
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(found, 'stored after resume');
  } finally {
    await gql(admin, 'mutation { resumeQueue }');
    await ctx.close();
  }
});

test('raw events filtered by a property show exactly the matching events; a bad filter is explained', async () => {
  const tag = `props-${randomUUID().slice(0, 8)}`;
  const hit = ev('element.click', { props: { selector: 'main > a.plan', plan: tag } });
  const miss = ev('element.click', { props: { selector: 'main > a.plan', plan: `${tag}-other` } });
  await collect(env('SIGHTLINE_PUBLIC_KEY'), [hit, miss]);
  const admin = env('SIGHTLINE_ADMIN_TOKEN');
  const range = { from: new Date(Date.now() - 3600e3).toISOString(), to: new Date(Date.now() + 3600e3).toISOString() };
  let ids = [];
  for (let i = 0; i < 50 && ids.length === 0; i++) {
    if (i > 0) await new Promise((res) => setTimeout(res, 100));
    const r = await gql(admin, 'query($p: ID!, $r: TimeRange!, $f: EventFilter) { events(projectId: $p, range: $r, filter: $f, first: 10) { edges { node { id } } } }',
      { p: env('SIGHTLINE_PROJECT_ID'), r: range, f: { props: { plan: tag } } });
    assert.ok(r.data, JSON.stringify(r));
    ids = r.data.events.edges.map((x) => x.node.id);
  }
  assert.deepEqual(ids, [hit.id], 'the API returns the matching event only');
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    await signIn(page, env('SIGHTLINE_ADMIN_EMAIL'), env('SIGHTLINE_ADMIN_PASSWORD'));
    await page.goto(`${base()}/#/events`);
    await page.getByLabel('Properties').fill(`plan=${tag}`);
    await page.getByRole('button', { name: 'Filter' }).click();
    const rows = page.locator('[data-testid=events] tbody tr');
    await page.locator('[data-testid=events] caption', { hasText: '1 events' }).waitFor({ timeout: 10000 });
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().textContent(), new RegExp(`"plan":"${tag}"`));
    await page.getByLabel('Properties').fill('{"plan": ');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('#f .msg', { hasText: 'not a JSON object' }).waitFor({ timeout: 5000 });
  } finally {
    await ctx.close();
  }
});

test('an event posted to ingest appears in the live feed within 2 seconds', async () => {
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    await signIn(page, env('SIGHTLINE_ADMIN_EMAIL'), env('SIGHTLINE_ADMIN_PASSWORD'));
    await page.goto(`${base()}/#/live`);
    await page.locator('[data-testid=feed]').waitFor({ state: 'attached' });
    await page.waitForTimeout(800); // subscription reaches the hub and Redis
    const e = ev('element.click', { props: { selector: 'live > button' } });
    const sent = Date.now();
    await collect(env('SIGHTLINE_PUBLIC_KEY'), [e]);
    await page.locator(`[data-testid=feed] li[data-id="${e.id}"]`).waitFor({ timeout: 2000 });
    assert.ok(Date.now() - sent < 2000, 'within 2 s');
    await page.waitForFunction(() => /\d+ events\/s/.test(document.querySelector('[data-testid=rate]').textContent), null, { timeout: 3000 });
    await page.screenshot({ path: `${shots()}/dashboard-live.png` });

    // Filtered on the server: of two clicks stored together, only the one with the property.
    await page.getByLabel('Only type').fill('element.click');
    await page.getByLabel('Properties').fill('plan=pro');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#state', { hasText: 'filtered' }).waitFor({ timeout: 2000 });
    await page.waitForTimeout(800); // the new subscription reaches the hub
    const pro = ev('element.click', { props: { plan: 'pro' } });
    const free = ev('element.click', { props: { plan: 'free' } });
    const view = ev('page.view', { props: { plan: 'pro' } });
    await collect(env('SIGHTLINE_PUBLIC_KEY'), [free, view, pro]);
    await page.locator(`[data-testid=feed] li[data-id="${pro.id}"]`).waitFor({ timeout: 2000 });
    assert.equal(await page.locator(`[data-testid=feed] li[data-id="${free.id}"]`).count(), 0, 'other plan filtered out');
    assert.equal(await page.locator(`[data-testid=feed] li[data-id="${view.id}"]`).count(), 0, 'other type filtered out');
    await page.getByLabel('Properties').fill('{"plan": ');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#state', { hasText: 'not a JSON object' }).waitFor({ timeout: 2000 });
  } finally {
    await ctx.close();
  }
});

test('a viewer sees no administration and no raw-event views; an expired session goes back to login', async () => {
  const admin = env('SIGHTLINE_ADMIN_TOKEN');
  const email = `viewer-${randomUUID().slice(0, 8)}@example.com`;
  const r = await gql(admin, 'mutation($e: String!, $p: ID!) { createAccount(email: $e, password: "viewer-password-1", role: VIEWER, projectIds: [$p]) { id } }', { e: email, p: env('SIGHTLINE_PROJECT_ID') });
  assert.ok(r.data, JSON.stringify(r));
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    await signIn(page, email, 'viewer-password-1');
    const links = await page.locator('nav a').allTextContents();
    assert.ok(links.includes('Overview'), links.join(','));
    for (const hidden of ['Raw events', 'Live feed', 'User timeline', 'Projects', 'Accounts', 'Dead letters']) {
      assert.ok(!links.includes(hidden), `viewer does not see ${hidden}`);
    }
    // Typing the address of a hidden view shows an allowed one instead.
    await page.goto(`${base()}/#/events`);
    await page.locator('main h1').waitFor();
    assert.notEqual(await page.locator('main h1').textContent(), 'Raw events');
    // A session the server refuses (expired or revoked) sends the user back to the login form.
    await ctx.addCookies([{ name: 'sightline_session', value: 'expired.token.value', url: base(), httpOnly: true, secure: true, sameSite: 'Strict' }]);
    await page.goto(`${base()}/#/overview`);
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 5000 });
  } finally {
    await ctx.close();
  }
});

test('creating a project shows a snippet whose key works', async () => {
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    await signIn(page, env('SIGHTLINE_ADMIN_EMAIL'), env('SIGHTLINE_ADMIN_PASSWORD'));
    await page.goto(`${base()}/#/projects`);
    const name = `shop-${randomUUID().slice(0, 6)}`;
    await page.getByLabel('Name').fill(name);
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('#created [data-testid=snippet], #created [role=alert]').first().waitFor({ timeout: 10000 })
      .catch(async (e) => { await page.screenshot({ path: `${shots()}/dashboard-project-failed.png`, fullPage: true }); throw e; });
    assert.equal(await page.locator('#created [role=alert]').count(), 0, await page.locator('#created').textContent());
    const snippet = await page.locator('#created [data-testid=snippet] code').first().textContent();
    assert.match(snippet, /^<script async src="http:\/\/127\.0\.0\.1:\d+\/sightline\.js" data-key="pk_[0-9a-f]+"><\/script>$/);
    const key = snippet.match(/data-key="([^"]+)"/)[1];
    await collect(key, [ev('page.view')]);
    await page.screenshot({ path: `${shots()}/dashboard-project-created.png`, fullPage: true });
  } finally {
    await ctx.close();
  }
});
