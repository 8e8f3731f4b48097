// The tracker's page context fields, URL privacy rule, identity reset, storage-free mode and
// privacy signals, in headless Chromium against the real server. Each test reads what the
// server stored (Postgres) where it stores it, and the beacons the page sent for the fields it
// keeps only as audience attributes (screen_width, language, webdriver).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, db, env, poll, ready, eventsOf, collectRequests, openWithAttrs, sentEvents } from './helpers.mjs';

const demo = (p) => env('SIGHTLINE_DEMO_URL') + p;
const project = () => env('SIGHTLINE_PROJECT_ID');

const run = (body, options) => async () => {
  const ctx = await browser(options);
  const client = await db();
  try {
    await body(ctx, client);
  } finally {
    await client.end();
    await ctx.close();
  }
};

const isReady = (page) => page.waitForFunction(() => window.sightline && sightline.ready, null, { timeout: 15000 });

// Rows whose metadata carries `marker` (set by the test's own track call) or whose anonymous id
// is `anon`; polled until `n` are stored.
const byMarker = (client, marker, n) => poll(client,
  `SELECT event_type, anonymous_id, session_id, user_id, path, referrer, metadata FROM activities
   WHERE project_id = $1 AND metadata->>'marker' = $2 ORDER BY occurred_at, event_id`,
  [project(), marker], (r) => r.length >= n, 15000);

test('page views carry the viewport width and the browser language; every event says webdriver under automation', run(async (ctx, client) => {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1123, height: 700 });
  const bodies = collectRequests(page);
  await page.goto(demo('/'));
  const anon = await ready(page);
  assert.equal(await page.evaluate(() => navigator.webdriver), true, 'Playwright drives Chromium as a webdriver');
  assert.equal(await page.evaluate(() => navigator.language), 'de-CH');
  await page.click('#signup');
  await page.evaluate(() => sightline.flush());
  const rows = await eventsOf(client, anon, 3);
  assert.deepEqual(rows.map((r) => r.event_type).sort(), ['element.click', 'page.view', 'signup.click'],
    'the server accepted every event with the new fields');

  const events = sentEvents(bodies);
  const view = events.find((e) => e.type === 'page.view');
  assert.equal(view.screen_width, 1123, 'window.innerWidth');
  assert.equal(view.language, 'de-CH', 'navigator.language');
  assert.equal(view.webdriver, true);
  for (const e of events.filter((e) => e.type !== 'page.view')) {
    assert.equal(e.webdriver, true, `${e.type} says webdriver too`);
    assert.ok(!('screen_width' in e) && !('language' in e), `${e.type}: page views only`);
  }
}, { locale: 'de-CH' }));

test('webdriver is left out when navigator.webdriver is not true', run(async (ctx, client) => {
  const page = await ctx.newPage();
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false }));
  const bodies = collectRequests(page);
  await page.goto(demo('/'));
  const anon = await ready(page);
  await page.evaluate(() => sightline.flush());
  await eventsOf(client, anon, 1);
  const events = sentEvents(bodies);
  assert.ok(events.length >= 1);
  for (const e of events) assert.ok(!('webdriver' in e), JSON.stringify(e));
}));

test('URL privacy: only route fragments are kept, credential parameters never leave the page', run(async (ctx, client) => {
  const page = await ctx.newPage();
  const bodies = collectRequests(page);
  // A sign-in callback with credentials in the query and the fragment (OAuth implicit flow).
  await page.goto(demo('/app/?access_token=SECRET1&keep=1&STATE=SECRET2#id_token=SECRET3'));
  const anon = await ready(page);
  await page.evaluate(() => history.pushState({}, '', '/app/#/settings/2?code=SECRET4&tab=x'));
  await page.evaluate(() => { location.hash = 'section'; }); // leaves the route: the plain page again
  await page.waitForFunction(() => location.hash === '#section');
  await page.evaluate(() => { location.hash = 'token=SECRET5'; }); // same page: no view
  await page.waitForFunction(() => location.hash === '#token=SECRET5');
  await page.evaluate(() => history.pushState({}, '', '/app/reports?Password=SECRET6&sort=asc#/r?jwt=SECRET7'));
  await page.evaluate(() => sightline.flush());

  const rows = (await eventsOf(client, anon, 4)).filter((r) => r.event_type === 'page.view');
  assert.deepEqual(rows.map((r) => [r.path, r.metadata.url]), [
    ['/app/', demo('/app/?keep=1')],
    ['/app/#/settings/2', demo('/app/#/settings/2?tab=x')],
    ['/app/', demo('/app/')],
    ['/app/reports#/r', demo('/app/reports?sort=asc#/r')],
  ]);
  assert.deepEqual(rows.map((r) => r.referrer), [null, demo('/app/?keep=1'), demo('/app/#/settings/2?tab=x'), demo('/app/')]);
  const sent = JSON.stringify(bodies);
  assert.ok(!/SECRET/.test(sent), `no credential in what was sent: ${sent.match(/.{40}SECRET.{20}/)}`);
  assert.ok(!/SECRET/.test(JSON.stringify(rows)));

  // The referrer of a page loaded from a link: the document's referrer under the same rule.
  const next = await ctx.newPage();
  await next.goto(demo('/?id_token=SECRET8&x=1#token=SECRET9'));
  const anon2 = await ready(next);
  await next.click('#pricing-link');
  await next.waitForURL(/pricing/);
  await ready(next);
  await next.evaluate(() => sightline.flush());
  const views = (await eventsOf(client, anon2, 3)).filter((r) => r.event_type === 'page.view');
  const pricing = views.find((r) => r.path === '/pricing.html');
  assert.equal(pricing.referrer, demo('/?x=1'));
  assert.ok(!/SECRET/.test(JSON.stringify(views)));
}));

test('reset() starts a new anonymous visitor: new anonymous id and session, no user', run(async (ctx, client) => {
  const page = await ctx.newPage();
  await page.goto(demo('/pricing.html'));
  const anon = await ready(page);
  const marker = `reset-${Date.now()}`;
  const before = await page.evaluate((m) => {
    sightline.identify('u-reset', {});
    sightline.group('c-reset');
    sightline.track('before.reset', { marker: m });
    return { sid: localStorage.getItem('sightline_sid') };
  }, marker);
  const after = await page.evaluate((m) => {
    sightline.reset();
    const ids = { aid: localStorage.getItem('sightline_aid'), sid: localStorage.getItem('sightline_sid'),
      uid: localStorage.getItem('sightline_uid'), cid: localStorage.getItem('sightline_cid') };
    sightline.track('after.reset', { marker: m });
    sightline.flush();
    return ids;
  }, marker);
  assert.ok(after.aid && after.aid !== anon, 'a new anonymous id is stored at once');
  assert.ok(after.sid && after.sid !== before.sid, 'a new session');
  assert.deepEqual([after.uid, after.cid], [null, null], 'user and community forgotten');

  const rows = await byMarker(client, marker, 2);
  const by = (t) => rows.find((r) => r.event_type === t);
  assert.deepEqual([by('before.reset').anonymous_id, by('before.reset').session_id, by('before.reset').user_id],
    [anon, before.sid, 'u-reset']);
  assert.deepEqual([by('after.reset').anonymous_id, by('after.reset').session_id, by('after.reset').user_id],
    [after.aid, after.sid, null]);
}));

test('data-storage="none" stores nothing and sends no anonymous or session id; identify still attaches the user', run(async (ctx, client) => {
  const page = await ctx.newPage();
  const bodies = collectRequests(page);
  await openWithAttrs(page, demo('/'), { 'data-storage': 'none' });
  const marker = `none-${Date.now()}`;
  await page.click('#signup');
  await page.evaluate((m) => {
    sightline.track('none.before', { marker: m });
    sightline.identify(`u-${m}`, {});
    sightline.track('none.after', { marker: m });
    sightline.reset();
    sightline.flush();
  }, marker);
  // Both events share a millisecond: compare them by type, not by storage order.
  const rows = (await byMarker(client, marker, 2)).sort((a, b) => a.event_type.localeCompare(b.event_type));
  assert.deepEqual(rows.map((r) => [r.event_type, r.user_id]), [['none.after', `u-${marker}`], ['none.before', null]]);
  // The server derives the visitor and its visit (a salted hash of the day, address and agent):
  // the same for both events, and nothing the browser sent.
  const [a, b] = rows;
  assert.match(a.anonymous_id, /^cl-[0-9a-f]{24}$/);
  assert.match(a.session_id, /^cl-[0-9a-f]{24}$/);
  assert.deepEqual([b.anonymous_id, b.session_id], [a.anonymous_id, a.session_id]);
  const events = sentEvents(bodies);
  assert.ok(events.some((e) => e.type === 'page.view') && events.some((e) => e.type === 'element.click'));
  for (const e of events) assert.ok(!('anonymous_id' in e) && !('session_id' in e), JSON.stringify(e));
  const stored = await page.evaluate(() => ({
    local: Object.keys(localStorage), session: Object.keys(sessionStorage), cookie: document.cookie,
  }));
  assert.deepEqual(stored, { local: [], session: [], cookie: '' }, 'nothing in any storage');
}));

test('Do Not Track and GPC are honoured by default; data-respect-dnt="false" sends anyway', run(async (ctx, client) => {
  const dnt = () => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' });
  const gpc = () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });
  for (const [signal, script] of [['DNT', dnt], ['GPC', gpc]]) {
    const page = await ctx.newPage();
    await page.addInitScript(script);
    const bodies = collectRequests(page);
    await page.goto(demo('/')); // a tag without data-respect-dnt
    await isReady(page);
    await page.click('#signup');
    await page.evaluate(() => { sightline.track('signal.check', {}); sightline.flush(); });
    await page.waitForTimeout(1500);
    assert.equal(bodies.length, 0, `${signal}: nothing sent`);
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('sightline'))), [],
      `${signal}: nothing stored`);
    await page.close();
  }

  const page = await ctx.newPage();
  await page.addInitScript(dnt);
  await page.addInitScript(gpc);
  await openWithAttrs(page, demo('/'), { 'data-respect-dnt': 'false' });
  const anon = await ready(page);
  assert.ok(anon, 'ids as usual');
  const marker = `dnt-off-${Date.now()}`;
  await page.evaluate((m) => { sightline.track('dnt.ignored', { marker: m }); sightline.flush(); }, marker);
  const rows = await byMarker(client, marker, 1);
  assert.equal(rows.length, 1, 'the site opted out of honouring the signals');
  assert.equal(rows[0].anonymous_id, anon);
}));
