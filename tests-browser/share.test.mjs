// Shared links in Chromium against a project seeded here with known events: an admin creates a
// link on the "Shared links" page, a fresh browser (no login, nothing stored) opens the URL it
// showed and sees the overview's numbers as computed in this file from the events sent (never
// from the API's own answers), read-only (no navigation, no sign-in form), every request
// carrying the link's token and no cookie; once the admin revokes the link, the same page shows
// an error instead. Screenshots go to $SIGHTLINE_ARTIFACTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { browser, env } from './helpers.mjs';

const base = () => env('SIGHTLINE_URL');
const shots = () => env('SIGHTLINE_ARTIFACTS');
const CHROME_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

async function gql(query, variables = {}) {
  const r = await fetch(`${base()}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env('SIGHTLINE_ADMIN_TOKEN')}` },
    body: JSON.stringify({ query, variables }),
  });
  const b = await r.json();
  assert.ok(b.data, JSON.stringify(b));
  return b.data;
}

// Two days ago, UTC: well inside the shared page's default range (the last 7 days) in any time
// zone the browser has.
const day = (() => { const d = new Date(); d.setUTCHours(0, 0, 0, 0); return d.getTime() - 2 * 86400e3; })();

// [visitor, session, type, path, minutes after the day's 10:00]; visitors per path differ (no
// ties in the pages panel's order, which ranks pages by visitors).
const EVENTS = [
  ['v1', 's1', 'page.view', '/', 0],
  ['v1', 's1', 'page.view', '/pricing', 1],
  ['v1', 's1', 'signup.completed', '/pricing', 2],
  ['v2', 's2', 'page.view', '/docs', 5],
  ['v3', 's3', 'page.view', '/docs', 60],
  ['v3', 's3', 'page.view', '/pricing', 61],
  ['v3', 's3', 'page.view', '/docs', 62],
  ['v3', 's3', 'download.started', '/docs', 63],
  ['v2', 's4', 'page.view', '/docs', 120],
  ['v4', 's5', 'page.view', '/docs', 180],
];

// The truths, from the tuples only.
function expected(rows) {
  const views = rows.filter((r) => r[2] === 'page.view');
  const sessions = [...new Set(rows.map((r) => r[1]))];
  const viewsIn = (s) => views.filter((r) => r[1] === s).length;
  // The pages panel: each page's visitors (people who viewed it), most first.
  const pages = new Map();
  for (const r of views) pages.set(r[3], (pages.get(r[3]) ?? new Set()).add(r[0]));
  return {
    visitors: new Set(rows.map((r) => r[0])).size,
    sessions: sessions.length,
    pageViews: views.length,
    events: rows.length,
    bounceRate: sessions.filter((s) => viewsIn(s) <= 1).length / sessions.length,
    pages: [...pages].map(([k, v]) => [k, v.size]).sort((a, b) => b[1] - a[1]),
  };
}

async function seed() {
  const name = `shared-${randomUUID().slice(0, 6)}`;
  const d = await gql('mutation($n: String!) { createProject(name: $n, allowedOrigins: []) { project { id publicKey } } }', { n: name });
  const { id, publicKey } = d.createProject.project;
  const events = EVENTS.map(([v, s, type, path, min]) => ({
    id: randomUUID(), type, ts: day + 10 * 3600e3 + min * 60e3,
    anonymous_id: `sh-${v}`, session_id: `sh-${s}`, url: `https://shop.example${path}`,
  }));
  const r = await fetch(`${base()}/collect`, {
    method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME_UA }, body: JSON.stringify({ key: publicKey, events }),
  });
  assert.equal(r.status, 202, await r.text());
  for (let i = 0; i < 100; i++) {
    const c = await gql('query($p: ID!) { eventCount(projectId: $p) }', { p: id });
    if (c.eventCount >= events.length) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  await new Promise((res) => setTimeout(res, 500));
  return { id, name };
}

const value = (page, id) => page.locator(`[data-testid=card-${id}]`).getAttribute('data-value');

test('a shared link shows the overview without login, read-only, and stops working once revoked', async () => {
  const { id, name } = await seed();
  const want = expected(EVENTS);
  const admin = await browser();
  const visitor = await browser();
  try {
    // The admin creates the link on the "Shared links" page of the project.
    const page = await admin.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${base()}/?project=${id}#/sharing`);
    await page.getByLabel('Email').fill(env('SIGHTLINE_ADMIN_EMAIL'));
    await page.getByLabel('Password').fill(env('SIGHTLINE_ADMIN_PASSWORD'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('nav').waitFor({ timeout: 10000 });
    await page.goto(`${base()}/?project=${id}#/sharing`);
    await page.getByLabel('Label (what it is for)').fill('Board report');
    await page.getByRole('button', { name: 'Create link' }).click();
    const url = (await page.getByTestId('share-url').textContent({ timeout: 10000 })).trim();
    assert.match(url, new RegExp(`^${base().replace(/[.]/g, '\\.')}/#/share/shr_[0-9a-f]{64}$`));
    const row = page.locator('[data-testid=share-link]');
    await row.first().waitFor({ timeout: 10000 });
    assert.equal(await row.count(), 1);
    assert.equal(await row.first().getAttribute('data-revoked'), 'false');
    assert.match(await row.first().textContent(), /Board report/);
    await page.screenshot({ path: `${shots()}/share-admin.png`, fullPage: true });

    // A fresh browser: no session, nothing stored. The URL alone shows the overview.
    const shared = await visitor.newPage();
    await shared.setViewportSize({ width: 1280, height: 900 });
    const sent = [];
    shared.on('request', (r) => { if (new URL(r.url()).pathname === '/graphql') sent.push(r.headers()); });
    await shared.goto(url);
    await shared.waitForFunction((w) => {
      const v = (k) => Number(document.querySelector(`[data-testid=card-${k}]`)?.getAttribute('data-value'));
      return v('visitors') === w.visitors && v('pageViews') === w.pageViews && v('events') === w.events;
    }, want, { timeout: 15000 }).catch(async (e) => {
      await shared.screenshot({ path: `${shots()}/share-failed.png`, fullPage: true });
      throw e;
    });
    for (const k of ['visitors', 'sessions', 'pageViews', 'events']) {
      assert.equal(Number(await value(shared, k)), want[k], `${k} card`);
    }
    assert.ok(Math.abs(Number(await value(shared, 'bounceRate')) - want.bounceRate) < 1e-9, 'bounce rate card');
    await shared.waitForFunction((keys) => JSON.stringify([...document.querySelectorAll('[data-testid=panel-pages] [data-testid=row]')].map((li) => li.dataset.key)) === JSON.stringify(keys),
      want.pages.map(([k]) => k), { timeout: 10000 });
    const pages = await shared.locator('[data-testid=panel-pages] [data-testid=row]').evaluateAll((lis) => lis.map((li) => [li.dataset.key, Number(li.dataset.value)]));
    assert.deepEqual(pages, want.pages);
    // Read-only and nothing else: the project's name, no navigation, no sign-in, no session.
    assert.match(await shared.getByTestId('shared-project').textContent(), new RegExp(`${name}.*read-only`));
    assert.equal(await shared.locator('nav').count(), 0, 'no views to switch to');
    assert.equal(await shared.getByRole('button', { name: 'Sign in' }).count(), 0);
    assert.equal(await shared.getByRole('button', { name: 'Sign out' }).count(), 0);
    assert.ok(sent.length > 0);
    const token = url.split('/#/share/')[1];
    for (const h of sent) {
      assert.equal(h['x-sightline-share'], token, 'every request carries the link');
      assert.equal(h['x-sightline-csrf'], undefined);
      assert.equal(h.cookie, undefined);
    }
    assert.deepEqual(await visitor.cookies(), []);
    await shared.screenshot({ path: `${shots()}/share.png`, fullPage: true });

    // The admin revokes it: the same page, opened again, shows an error and no numbers.
    await page.getByRole('button', { name: 'Revoke Board report' }).click();
    await page.locator('[data-testid=share-link][data-revoked=true]').waitFor({ timeout: 10000 });
    await shared.reload();
    const error = shared.getByTestId('share-error');
    await error.waitFor({ timeout: 10000 });
    assert.equal(await error.getAttribute('data-code'), 'UNAUTHENTICATED');
    assert.match(await error.textContent(), /does not work/);
    assert.equal(await shared.locator('[data-testid^=card-]').count(), 0);
    await shared.screenshot({ path: `${shots()}/share-revoked.png`, fullPage: true });
  } finally {
    await visitor.close();
    await admin.close();
  }
});
