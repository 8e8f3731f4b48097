// The overview page in Chromium against a project seeded here with known events: every figure
// the page shows is compared with a count computed in this file from the events sent (never with
// the API's own answers). A row click filters every panel and the cards; the page's URL reproduces
// the view (filters, comparison, range, project) in a fresh browser; a panel's CSV equals its
// rows; the funnel builder offers the project's event types and paths; the heatmap paints the
// known hot cell; journeys show the known flow. Screenshots go to $SIGHTLINE_ARTIFACTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
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

// Days in UTC: the range is day D (two days ago), the comparison window the day before.
const dayStart = (daysAgo) => { const d = new Date(); d.setUTCHours(0, 0, 0, 0); return d.getTime() - daysAgo * 86400e3; };
const isoDay = (t) => new Date(t).toISOString().slice(0, 10);
const D = dayStart(2);
const P = dayStart(3);

// [visitor, session, type, path, minutes after the day's 10:00, referrer, props]
const CURRENT = [
  ['v1', 's1', 'page.view', '/', 0],
  ['v1', 's1', 'page.view', '/pricing', 1],
  ['v1', 's1', 'signup.completed', '/pricing', 2],
  ['v2', 's2', 'page.view', '/', 5],
  ['v3', 's3', 'page.view', '/pricing', 60, 'https://news.example/story'],
  ['v3', 's3', 'page.view', '/docs', 62],
  ['v4', 's4', 'page.view', '/docs', 90],
  ['v3', 's3', 'download.started', '/docs', 63],
  ['v4', 's4', 'download.started', '/docs', 91],
  ['v4', 's4', 'download.started', '/docs', 92],
  ['v4', 's4', 'page.view', '/docs', 93],
  ['v4', 's4', 'page.view', '/pricing', 95],
  ['v1', 's5', 'page.view', '/pricing', 120],
  // Clicks with the tracker's document positions (1/10000 of width and height): three in the
  // cell at 25% across, 40% down, two at 90%, 10%.
  ['v1', 's1', 'element.click', '/pricing', 1.2, null, { selector: 'main > button.cta', x: 2550, y: 4020, doc_w: 1280 }],
  ['v3', 's3', 'element.click', '/pricing', 60.5, null, { selector: 'main > button.cta', x: 2599, y: 4001, doc_w: 1280 }],
  ['v4', 's4', 'element.click', '/pricing', 95.5, null, { selector: 'main > button.cta', x: 2500, y: 4099, doc_w: 1280 }],
  ['v4', 's4', 'element.click', '/pricing', 95.7, null, { selector: 'nav > a.docs', x: 9012, y: 1050, doc_w: 1280 }],
  ['v3', 's3', 'element.click', '/pricing', 60.7, null, { selector: 'nav > a.docs', x: 9050, y: 1010, doc_w: 1280 }],
  // A selector that is HTML: shown as text, never run. No position: no cell.
  ['v3', 's3', 'element.click', '/pricing', 60.8, null, { selector: '<img src=x onerror="window.__xss=1">', doc_w: 1280 }],
];
const PREVIOUS = [
  ['v5', 's6', 'page.view', '/', 0],
  ['v6', 's7', 'page.view', '/pricing', 30],
  ['v6', 's7', 'page.view', '/docs', 31],
];

function toEvents(rows, day, tag) {
  return rows.map(([v, s, type, path, min, referrer, props]) => ({
    id: randomUUID(), type, ts: day + 10 * 3600e3 + min * 60e3,
    anonymous_id: `${tag}-${v}`, session_id: `${tag}-${s}`, url: `https://shop.example${path}`,
    ...(referrer ? { referrer } : {}), ...(props ? { props } : {}),
  }));
}

// A breakdown of tuples by `key`: [key, visitors, events], most visitors first, then most events
// (the data has no ties on both).
function breakdown(rows, key) {
  const m = new Map();
  for (const r of rows) {
    const k = key(r);
    if (k === undefined || k === null) continue;
    const e = m.get(k) ?? { visitors: new Set(), events: 0 };
    e.visitors.add(r[0]);
    e.events += 1;
    m.set(k, e);
  }
  return [...m].map(([k, e]) => [k, e.visitors.size, e.events]).sort((a, b) => b[1] - a[1] || b[2] - a[2]);
}

// The truths, from the event tuples only; `where` keeps the tuples a filter passes.
function expected(rows, where = () => true) {
  const hit = rows.filter(where);
  const views = hit.filter((r) => r[2] === 'page.view');
  const sessions = [...new Set(hit.map((r) => r[1]))];
  // A session bounces when it has at most one page view in all (not only the matching ones).
  const viewsIn = (s) => rows.filter((r) => r[1] === s && r[2] === 'page.view').length;
  return {
    visitors: new Set(hit.map((r) => r[0])).size,
    sessions: sessions.length,
    pageViews: views.length,
    events: hit.length,
    bounceRate: sessions.filter((s) => viewsIn(s) <= 1).length / sessions.length,
    // Pages: every event's path; custom events: every type but page views.
    pages: breakdown(hit, (r) => r[3]),
    types: breakdown(hit.filter((r) => r[2] !== 'page.view'), (r) => r[2]),
  };
}

async function collect(key, events) {
  const r = await fetch(`${base()}/collect`, {
    method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME_UA }, body: JSON.stringify({ key, events }),
  });
  assert.equal(r.status, 202, await r.text());
}

async function seed() {
  const name = `overview-${randomUUID().slice(0, 6)}`;
  const d = await gql('mutation($n: String!) { createProject(name: $n, allowedOrigins: []) { project { id publicKey } } }', { n: name });
  const { id, publicKey } = d.createProject.project;
  const sent = [...toEvents(CURRENT, D, 'c'), ...toEvents(PREVIOUS, P, 'p')];
  await collect(publicKey, sent);
  for (let i = 0; i < 100; i++) {
    const c = await gql('query($p: ID!) { eventCount(projectId: $p) }', { p: id });
    if (c.eventCount >= sent.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 500));
  return { id, name };
}

async function signInAt(page, url) {
  await page.goto(url);
  await page.getByLabel('Email').fill(env('SIGHTLINE_ADMIN_EMAIL'));
  await page.getByLabel('Password').fill(env('SIGHTLINE_ADMIN_PASSWORD'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('nav').waitFor({ timeout: 10000 });
}

const card = (page, id) => page.locator(`[data-testid=card-${id}]`);

async function waitCards(page, want) {
  await page.waitForFunction((w) => {
    const v = (id) => document.querySelector(`[data-testid=card-${id}]`)?.getAttribute('data-value');
    return Number(v('visitors')) === w.visitors && Number(v('pageViews')) === w.pageViews && Number(v('events')) === w.events;
  }, want, { timeout: 10000 }).catch(async (e) => {
    await page.screenshot({ path: `${shots()}/overview-failed.png`, fullPage: true });
    throw e;
  });
}

async function assertCards(page, want) {
  await waitCards(page, want);
  for (const k of ['visitors', 'sessions', 'pageViews', 'events']) {
    assert.equal(Number(await card(page, k).getAttribute('data-value')), want[k], `${k} card`);
  }
  assert.ok(Math.abs(Number(await card(page, 'bounceRate').getAttribute('data-value')) - want.bounceRate) < 1e-9, 'bounce rate card');
  assert.equal(await card(page, 'bounceRate').locator('.card-value').textContent(), `${(want.bounceRate * 100).toFixed(1)}%`);
  assert.equal(await card(page, 'viewsPerVisit').locator('.card-value').textContent(), (want.pageViews / want.sessions).toFixed(2));
}

// The rows a panel shows: [key, visitors, share text] (and events, with `events`).
async function panelRows(page, panel, events = false) {
  const rows = page.locator(`[data-testid=panel-${panel}] > [data-testid=rows] > [data-testid=row]`);
  await rows.first().waitFor({ timeout: 10000 });
  return rows.evaluateAll((lis, ev) => lis.map((li) => [li.dataset.key, Number(li.dataset.value), ...(ev ? [Number(li.dataset.events)] : []),
    li.querySelector('.row-share').textContent]), events);
}

async function waitRows(page, panel, keys) {
  await page.waitForFunction(([p, k]) => {
    const el = document.querySelector(`[data-testid=panel-${p}]`);
    const got = [...(el?.querySelectorAll(':scope > [data-testid=rows] > [data-testid=row]') ?? [])].map((li) => li.dataset.key);
    return el?.getAttribute('aria-busy') === 'false' && JSON.stringify(got) === JSON.stringify(k);
  }, [panel, keys], { timeout: 10000 });
}

const pct = (n, total) => `${((n / total) * 100).toFixed(1)}%`;

test('overview: known numbers, row-click filtering, comparison, CSV and a link that reproduces the view', async () => {
  const { id } = await seed();
  const all = expected(CURRENT);
  const before = expected(PREVIOUS);
  const url = `${base()}/?project=${id}&range=${isoDay(D)}..${isoDay(D)}&tz=UTC#/overview`;
  const ctx = await browser();
  let shared;
  try {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    await signInAt(page, url);
    assert.equal(await page.locator('#project').inputValue(), id, 'the project comes from the URL');
    await assertCards(page, all);

    // Pages and custom events: key, visitors and their share of all visitors, most first (custom
    // events also their event counts).
    await waitRows(page, 'pages', all.pages.map(([k]) => k));
    assert.deepEqual(await panelRows(page, 'pages'), all.pages.map(([k, n]) => [k, n, pct(n, all.visitors)]));
    await waitRows(page, 'events', all.types.map(([k]) => k));
    assert.deepEqual(await panelRows(page, 'events', true), all.types.map(([k, n, e]) => [k, n, e, pct(n, all.visitors)]));
    // The share bar is as wide as the share.
    const bar = await page.locator('[data-testid=panel-pages] [data-testid=row]').first().locator('.row-bar').evaluate((b) => b.style.width);
    assert.ok(bar.endsWith('%') && Math.abs(parseFloat(bar) - (all.pages[0][1] / all.visitors) * 100) < 0.05, `bar width ${bar}`);

    // Comparison with the day before: each card knows the previous value and the change.
    await page.getByTestId('compare').selectOption('PREVIOUS_PERIOD');
    await page.locator('[data-testid=card-visitors][data-previous]').waitFor({ timeout: 10000 });
    for (const k of ['visitors', 'sessions', 'pageViews']) {
      assert.equal(Number(await card(page, k).getAttribute('data-previous')), before[k], `previous ${k}`);
    }
    const ch = Math.round(((all.pageViews - before.pageViews) / before.pageViews) * 100);
    assert.equal(await card(page, 'pageViews').getByTestId('change').textContent(), `${ch > 0 ? '↑' : ch < 0 ? '↓' : ''}${Math.abs(ch)}%`);
    await page.locator('#metric').selectOption('PAGE_VIEWS');
    await page.locator(`[data-testid=series][data-total="${all.pageViews}"][data-previous-total="${before.pageViews}"]`).waitFor({ timeout: 10000 });
    assert.equal(await page.getByTestId('previous-line').count(), 1, 'the comparison window is drawn');
    await page.screenshot({ path: `${shots()}/overview.png`, fullPage: true });

    // A row click filters everything: cards, series, every panel; a chip says so.
    await page.locator('[data-testid=panel-pages] [data-testid=row][data-key="/pricing"] button').click();
    const only = expected(CURRENT, (r) => r[3] === '/pricing');
    await page.getByTestId('chip').waitFor();
    assert.match(await page.getByTestId('chip').textContent(), /Page is \/pricing/);
    await assertCards(page, only);
    await waitRows(page, 'pages', ['/pricing']);
    assert.deepEqual(await panelRows(page, 'pages'), [['/pricing', only.visitors, '100.0%']]);
    await waitRows(page, 'events', only.types.map(([k]) => k));
    assert.deepEqual(await panelRows(page, 'events', true), only.types.map(([k, n, e]) => [k, n, e, pct(n, only.visitors)]));
    await page.locator(`[data-testid=series][data-total="${only.pageViews}"]`).waitFor({ timeout: 10000 });
    await page.screenshot({ path: `${shots()}/overview-filtered.png`, fullPage: true });

    // A panel's CSV is its rows.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=panel-events] .csv').click()]);
    const csv = await readFile(await download.path(), 'utf8');
    const shown = await panelRows(page, 'events', true);
    assert.equal(csv, ['Event,Visitors,Events,Share', ...shown.map(([k, n, e, s]) => `${k},${n},${e},${s}`)].join('\r\n') + '\r\n');
    assert.equal(shown.length, only.types.length);

    shared = page.url();
    const q = new URL(shared).searchParams;
    assert.deepEqual(q.getAll('f'), ['page:is:/pricing']);
    assert.equal(q.get('compare'), 'previous_period');

    // Removing the chip brings the whole range back.
    await page.getByRole('button', { name: /Remove filter Page \/pricing/ }).click();
    await assertCards(page, all);
    assert.equal(new URL(page.url()).searchParams.getAll('f').length, 0);

    // A custom event's row filters by that event.
    await page.locator('[data-testid=panel-events] [data-testid=row][data-key="download.started"] button').click();
    await assertCards(page, expected(CURRENT, (r) => r[2] === 'download.started'));
    assert.deepEqual(new URL(page.url()).searchParams.getAll('f'), ['event_type:is:download.started']);

    // The funnel builder offers the project's own event types and viewed paths.
    await page.goto(`${base()}/?project=${id}&range=${isoDay(D)}..${isoDay(D)}&tz=UTC#/funnel`);
    const typeSelect = page.getByLabel('Step 1 event type');
    await typeSelect.waitFor({ timeout: 10000 });
    const types = await typeSelect.locator('option').allTextContents();
    assert.deepEqual(types.sort(), [...new Set(CURRENT.map((r) => r[2]))].sort());
    const paths = await page.getByLabel('Step 1 path').locator('option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
    assert.deepEqual(paths.sort(), [...new Set(CURRENT.filter((r) => r[2] === 'page.view').map((r) => r[3]))].sort());
    await page.locator('figure.bars').waitFor({ timeout: 10000 });
    await page.screenshot({ path: `${shots()}/overview-funnel.png`, fullPage: true });
  } finally {
    await ctx.close();
  }

  // The copied link in a fresh browser (no session, nothing stored): same filter, comparison,
  // range and project once signed in.
  const fresh = await browser();
  try {
    const page = await fresh.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await signInAt(page, shared);
    const only = expected(CURRENT, (r) => r[3] === '/pricing');
    await assertCards(page, only);
    assert.match(await page.getByTestId('chip').textContent(), /Page is \/pricing/);
    await page.locator('[data-testid=card-pageViews][data-previous]').waitFor({ timeout: 10000 });
    assert.equal(Number(await card(page, 'pageViews').getAttribute('data-previous')), expected(PREVIOUS, (r) => r[3] === '/pricing').pageViews);
    await waitRows(page, 'pages', ['/pricing']);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await page.screenshot({ path: `${shots()}/overview-shared-link-phone.png`, fullPage: true });
  } finally {
    await fresh.close();
  }
});

test('heatmap: the hot cell and selectors of known clicks; journeys: the flow from a page', async () => {
  const { id } = await seed();
  const clicks = CURRENT.filter((r) => r[2] === 'element.click' && r[3] === '/pricing');
  const cells = new Map();
  for (const r of clicks.filter((c) => c[6].x !== undefined)) {
    const k = `${Math.min(Math.floor(r[6].x / 100), 99)},${Math.min(Math.floor(r[6].y / 100), 99)}`;
    cells.set(k, (cells.get(k) ?? 0) + 1);
  }
  const [hot, hotY] = [...cells].sort((a, b) => b[1] - a[1])[0][0].split(',');
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1280, height: 1000 });
    const at = `${base()}/?project=${id}&range=${isoDay(D)}..${isoDay(D)}&tz=UTC`;
    await signInAt(page, `${at}#/overview`);
    await page.goto(`${at}#/heatmap`);
    await page.getByLabel('Page', { exact: true }).selectOption('/pricing');
    const map = page.locator(`[data-testid=heatmap][data-clicks="${clicks.length}"]`);
    await map.waitFor({ timeout: 10000 });
    assert.equal(await map.getAttribute('data-hot-x'), hot);
    assert.equal(await map.getAttribute('data-hot-y'), hotY);
    // The canvas is painted hottest (opaque red) in that cell, and not at all in an empty one.
    const px = await page.locator('[data-testid=heatmap] canvas').evaluate((c, [x, y]) => {
      const g = c.getContext('2d');
      const at = (cx, cy) => [...g.getImageData(Math.floor(((cx + 0.5) * c.width) / 100), Math.floor(((cy + 0.5) * c.height) / 100), 1, 1).data];
      return { hot: at(x, y), empty: at(60, 60) };
    }, [Number(hot), Number(hotY)]);
    assert.equal(px.hot[0], 255, `hot cell is red: ${px.hot}`);
    assert.ok(px.hot[3] > 230, `hot cell is opaque: ${px.hot}`);
    assert.equal(px.empty[3], 0, 'an empty cell is not painted');
    const selectors = await page.locator('[data-testid=selectors] tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th').textContent, Number(tr.querySelector('td').textContent)]));
    const want = new Map();
    for (const r of clicks) want.set(r[6].selector, (want.get(r[6].selector) ?? 0) + 1);
    assert.deepEqual(selectors, [...want].sort((a, b) => b[1] - a[1]));
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'a selector is text, not markup');
    assert.equal(await page.locator('[data-testid=selectors] img').count(), 0);
    await page.screenshot({ path: `${shots()}/heatmap.png`, fullPage: true });

    // Journeys from `/`: the visits that viewed it, the next page, and how many ended there.
    await page.goto(`${base()}/?project=${id}&range=${isoDay(D)}..${isoDay(D)}&tz=UTC#/journeys`);
    await page.getByLabel('From page').selectOption('/');
    const sessions = [...new Set(CURRENT.map((r) => r[1]))].map((s) => CURRENT.filter((r) => r[1] === s && r[2] === 'page.view').map((r) => r[3]));
    const viaRoot = sessions.filter((p) => p.includes('/'));
    const after = viaRoot.map((p) => p[p.indexOf('/') + 1]);
    // The tree of the page chosen (the one shown before, of the most viewed page, stays until then).
    const root = page.locator('[data-testid=flow-node][data-step="0"][data-path="/"]');
    await root.waitFor({ timeout: 10000 });
    assert.equal(await root.getAttribute('data-path'), '/');
    assert.equal(Number(await root.getAttribute('data-visits')), viaRoot.length);
    assert.equal(Number(await root.getAttribute('data-ends')), after.filter((x) => x === undefined).length);
    const next = await page.locator('[data-testid=flow-node][data-step="1"]').evaluateAll((gs) => gs.map((g) => [g.dataset.path, Number(g.dataset.visits)]));
    const wantNext = new Map();
    for (const x of after.filter(Boolean)) wantNext.set(x, (wantNext.get(x) ?? 0) + 1);
    assert.deepEqual(next, [...wantNext].sort((a, b) => b[1] - a[1]));
    await page.screenshot({ path: `${shots()}/journeys.png`, fullPage: true });
  } finally {
    await ctx.close();
  }
});
