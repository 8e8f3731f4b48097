// The tracker's auto-capture and delivery in headless Chromium against the real server: every
// check reads what the worker stored in Postgres (activities: event_type, path, metadata).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, db, env, poll, ready, eventsOf, collectRequests } from './helpers.mjs';

const demo = (p) => env('SIGHTLINE_DEMO_URL') + p;

// A test body with a fresh browser (fresh storage: a new anonymous visitor) and a database client.
const run = (body) => async () => {
  const ctx = await browser();
  const client = await db();
  try {
    await body(ctx, client);
  } finally {
    await client.end();
    await ctx.close();
  }
};

test('clicks, data attributes, ignored elements, form fields, scroll depth and a link: exactly the expected events', run(async (ctx, client) => {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1200, height: 700 });
  await page.goto(demo('/'));
  const anon = await ready(page);
  await page.click('#signup');
  await page.click('.buy .label');
  await page.click('.secret');
  await page.click('#email');
  await page.keyboard.type('someone@example.com');
  await page.click('#notes');
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await page.waitForTimeout(200);
  await page.click('#pricing-link');
  await page.waitForURL(/pricing/);
  await ready(page);
  await page.evaluate(() => sightline.flush());

  const rows = await eventsOf(client, anon, 10);
  const got = rows.map((r) => `${r.event_type} ${r.path}`).sort();
  assert.deepEqual(got, [
    'element.click /', 'element.click /', 'element.click /', 'element.click /', 'element.click /',
    'page.scroll /', 'page.view /', 'page.view /pricing.html', 'signup.click /',
  ].sort(), 'nothing from the ignored button, nothing extra');

  const clicks = rows.filter((r) => r.event_type === 'element.click');
  const by = (sel) => clicks.find((c) => c.metadata.selector === sel);
  const signup = by('button#signup');
  assert.ok(signup, JSON.stringify(clicks.map((c) => c.metadata)));
  assert.equal(signup.metadata.tag, 'button');
  assert.equal(signup.metadata.id, 'signup');
  assert.equal(signup.metadata.classes, 'cta');
  assert.equal(signup.metadata.text, 'Start free trial');
  assert.equal(signup.metadata.plan, 'pro', 'data-sightline-plan becomes a property');
  assert.equal(signup.entity_type, 'button');
  assert.equal(signup.entity_id, 'signup');
  for (const k of ['x', 'y', 'page_x', 'page_y', 'doc_w', 'doc_h', 'vw']) assert.equal(typeof signup.metadata[k], 'number', k);
  assert.equal(signup.metadata.vw, 1200);
  assert.ok(signup.metadata.x > 0 && signup.metadata.x < 10000 && signup.metadata.y > 0 && signup.metadata.y < 10000);
  assert.equal(Math.round(signup.metadata.page_x * 10000 / signup.metadata.doc_w), signup.metadata.x, 'x is page x over document width, in 1/10000');

  const buy = by('section.products > button.buy.primary');
  assert.ok(buy, 'a click on the inner span is attributed to its button');
  assert.equal(buy.metadata.text, 'Add to cart', 'text is whitespace-collapsed');
  assert.equal(buy.metadata.sku, 'sku-42');
  assert.equal(buy.metadata.section, 'products', 'ancestor data-sightline-* attributes too');

  const fields = clicks.filter((c) => ['input', 'textarea'].includes(c.metadata.tag));
  assert.equal(fields.length, 2);
  const all = JSON.stringify(rows);
  assert.ok(!all.includes('someone@example.com') && !all.includes('private notes'), 'input values are never captured');
  for (const f of fields) assert.equal(f.metadata.text, undefined);

  const link = by('a#pricing-link');
  assert.equal(link.metadata.href, demo('/pricing.html?utm_source=demo'), 'href without the token parameter');
  const scroll = rows.find((r) => r.event_type === 'page.scroll');
  assert.deepEqual([scroll.metadata.depth, scroll.metadata.prev], [100, 0]);

  const pricing = rows.find((r) => r.path === '/pricing.html' && r.event_type === 'page.view');
  assert.equal(pricing.metadata.utm_source, 'demo');
  assert.equal(pricing.metadata.url, demo('/pricing.html?utm_source=demo'), 'deny-listed token stripped from the URL');
  assert.equal(pricing.referrer, demo('/'));
  assert.equal(pricing.metadata.title, 'Pricing');
  assert.equal(new Set(rows.map((r) => r.session_id)).size, 1, 'one session across pages');
}));

test('single-page-app navigation: pushState, replaceState, popstate and hashchange page views', run(async (ctx, client) => {
  const page = await ctx.newPage();
  await page.goto(demo('/app/'));
  const anon = await ready(page);
  await page.click('#to-settings');
  await page.click('#to-reports');
  await page.click('#to-details');
  await page.waitForFunction(() => location.hash === '#details');
  await page.evaluate(() => history.replaceState({}, '', location.href)); // same URL: no view
  await page.goBack();
  await page.waitForFunction(() => location.hash === '');
  await page.evaluate(() => history.replaceState({}, '', '/app/replaced'));
  await page.evaluate(() => sightline.flush());

  const rows = await eventsOf(client, anon, 10);
  const views = rows.filter((r) => r.event_type === 'page.view');
  assert.deepEqual(views.map((r) => [r.path, r.metadata.hash ?? '']), [
    ['/app/', ''], ['/app/settings', ''], ['/app/reports', ''], ['/app/reports', 'details'], ['/app/reports', ''], ['/app/replaced', ''],
  ]);
  assert.equal(views[1].metadata.title, 'App settings');
  assert.equal(views[1].referrer, demo('/app/'), 'an SPA view refers to the previous view');
  assert.equal(views[2].metadata.utm_campaign, 'spring');
  assert.equal(rows.filter((r) => r.event_type === 'element.click').length, 3);
  assert.equal(rows.length, 9);
}));

test('closing the tab delivers what was still batched in memory (pagehide beacon)', run(async (ctx, client) => {
  const page = await ctx.newPage();
  const sent = collectRequests(page);
  await page.goto(demo('/article.html')); // flush interval 60 s: nothing leaves before hide
  const anon = await ready(page);
  await page.click('#like');
  await page.evaluate(() => window.scrollTo(0, 2200));
  await page.waitForTimeout(300);
  assert.equal(sent.length, 0, 'still batched in memory');
  await page.close({ runBeforeUnload: true });
  const rows = await eventsOf(client, anon, 4);
  assert.deepEqual(rows.map((r) => r.event_type).sort(), ['element.click', 'page.scroll', 'page.view']);
  const s = rows.find((r) => r.event_type === 'page.scroll').metadata;
  assert.ok(s.depth >= 50 && s.depth < 100 && s.prev === 0, JSON.stringify(s));
}));

test('offline: events wait in localStorage and are delivered once after reconnecting and on the next page load', run(async (ctx, client) => {
  const page = await ctx.newPage();
  const sent = collectRequests(page);
  await page.goto(demo('/'));
  const anon = await ready(page);
  await page.evaluate(() => sightline.flush());
  await eventsOf(client, anon, 1);

  await ctx.setOffline(true);
  await page.click('#signup');
  await page.click('.buy');
  await page.evaluate(() => sightline.flush());
  const queued = await page.evaluate(() => (localStorage.getItem('sightline_q') || '').split('\n').filter(Boolean).length);
  assert.equal(queued, 3, 'two clicks and the custom event are queued in storage');
  await ctx.setOffline(false); // `online` fires: the queue is retried
  let rows = await eventsOf(client, anon, 4);
  assert.deepEqual(rows.map((r) => r.event_type).sort(), ['element.click', 'element.click', 'page.view', 'signup.click']);
  await page.waitForFunction(() => !localStorage.getItem('sightline_q'), null, { timeout: 5000 });

  // Offline again, then the page goes away: the next page load (online) delivers.
  await ctx.setOffline(true);
  await page.click('#signup');
  await page.evaluate(() => sightline.flush());
  await page.close();
  await ctx.setOffline(false);
  const next = await ctx.newPage();
  const sentNext = collectRequests(next);
  await next.goto(demo('/pricing.html'));
  await ready(next);
  await next.evaluate(() => sightline.flush());
  rows = await eventsOf(client, anon, 7);
  assert.deepEqual(rows.map((r) => r.event_type).sort(),
    ['element.click', 'element.click', 'element.click', 'page.view', 'page.view', 'signup.click', 'signup.click']);
  // No duplicates anywhere: not stored twice, and no event id was even sent twice.
  assert.equal(new Set(rows.map((r) => r.event_id)).size, rows.length);
  const ids = [...sent, ...sentNext].flatMap((b) => b.events.map((e) => e.id));
  assert.equal(new Set(ids).size, ids.length, 'each event sent exactly once');
}));

test('opt-out sends nothing, persists across loads, and opt-in resumes', run(async (ctx, client) => {
  const page = await ctx.newPage();
  const sent = collectRequests(page);
  await page.goto(demo('/'));
  const anon = await ready(page);
  await page.evaluate(() => sightline.optOut()); // the page view is still batched: dropped
  await page.click('#signup');
  await page.evaluate(() => window.scrollTo(0, 5000));
  await page.evaluate(() => sightline.flush());
  await page.reload();
  await page.waitForFunction(() => window.sightline && sightline.ready);
  await page.click('#signup');
  await page.evaluate(() => sightline.flush());
  await page.waitForTimeout(2500);
  assert.equal(sent.length, 0, 'no request at all');
  assert.equal(await page.evaluate(() => localStorage.getItem('sightline_optout')), '1');
  assert.equal(await page.evaluate(() => localStorage.getItem('sightline_aid')), null, 'ids forgotten');
  const rows = await eventsOf(client, anon, 0, 1500);
  assert.equal(rows.length, 0);

  await page.evaluate(() => { sightline.optIn(); sightline.track('consent.given', {}); sightline.flush(); });
  const again = await page.evaluate(() => localStorage.getItem('sightline_aid'));
  const after = await eventsOf(client, again, 1);
  assert.deepEqual(after.map((r) => r.event_type), ['consent.given']);
}));

test('a site that honours privacy signals sends nothing under GPC; cookieless mode stores nothing', run(async (ctx, client) => {
  const gpc = await ctx.newPage();
  await gpc.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  const sentGpc = collectRequests(gpc);
  await gpc.goto(demo('/private.html'));
  await gpc.waitForFunction(() => window.sightline && sightline.ready);
  await gpc.click('#go');
  await gpc.evaluate(() => sightline.flush());
  await gpc.waitForTimeout(1000);
  assert.equal(sentGpc.length, 0, 'GPC honoured');
  await gpc.close();

  const page = await ctx.newPage();
  const sent = collectRequests(page);
  const marker = `cookieless-${Date.now()}`;
  await page.goto(demo('/private.html'));
  await page.waitForFunction(() => window.sightline && sightline.ready);
  await page.evaluate((m) => { sightline.track('private.check', { marker: m }); sightline.flush(); }, marker);
  const rows = await poll(client,
    "SELECT anonymous_id, session_id FROM activities WHERE project_id = $1 AND metadata->>'marker' = $2",
    [env('SIGHTLINE_PROJECT_ID'), marker], (r) => r.length >= 1);
  assert.equal(rows.length, 1);
  assert.ok(rows[0].anonymous_id && rows[0].session_id, 'ids still attached, from memory');
  const keys = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('sightline')));
  assert.deepEqual(keys, [], 'nothing in storage');
  assert.ok(sent.length >= 1);
}));
