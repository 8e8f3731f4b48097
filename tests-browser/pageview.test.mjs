// The foundation's end-to-end check in a real browser: the demo page (another origin) loads the
// tracker, the wasm sends a page view with sendBeacon, and it is stored in Postgres.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, db, env, poll } from './helpers.mjs';

test('the demo page view reaches Postgres through beacon, queue and worker', async () => {
  const ctx = await browser();
  const client = await db();
  try {
    const page = await ctx.newPage();
    const beacons = [];
    page.on('request', (r) => { if (r.url().endsWith('/collect')) beacons.push(r); });
    await page.goto(env('SIGHTLINE_DEMO_URL') + '/');
    await page.waitForFunction(() => localStorage.getItem('sightline_aid'), null, { timeout: 10000 });
    const anon = await page.evaluate(() => localStorage.getItem('sightline_aid'));
    const rows = await poll(client,
      "SELECT event_type, path, metadata->>'title' AS title FROM activities WHERE project_id = $1 AND anonymous_id = $2",
      [env('SIGHTLINE_PROJECT_ID'), anon], (r) => r.length >= 1);
    assert.equal(rows.length, 1, 'exactly one page view');
    assert.equal(rows[0].event_type, 'page.view');
    assert.equal(rows[0].path, '/');
    assert.equal(rows[0].title, 'Sightline demo shop');
    assert.ok(beacons.length >= 1, 'sent to /collect');
    assert.match(beacons[0].headers()['content-type'], /^text\/plain/, 'a beacon with a text/plain body (no preflight)');
    await page.screenshot({ path: `${env('SIGHTLINE_ARTIFACTS')}/demo-page.png` });
  } finally {
    await client.end();
    await ctx.close();
  }
});

test('a custom event tracked from the page is stored with its properties', async () => {
  const ctx = await browser();
  const client = await db();
  try {
    const page = await ctx.newPage();
    await page.goto(env('SIGHTLINE_DEMO_URL') + '/pricing.html');
    await page.waitForFunction(() => localStorage.getItem('sightline_aid'), null, { timeout: 10000 });
    const anon = await page.evaluate(() => localStorage.getItem('sightline_aid'));
    await page.click('#signup');
    const rows = await poll(client,
      "SELECT event_type, metadata->>'plan' AS plan FROM activities WHERE project_id = $1 AND anonymous_id = $2 ORDER BY occurred_at",
      [env('SIGHTLINE_PROJECT_ID'), anon], (r) => r.length >= 3);
    // The auto-captured click and the page's own custom event.
    assert.deepEqual(rows.map((r) => r.event_type).sort(), ['element.click', 'page.view', 'signup.click']);
    assert.equal(rows.find((r) => r.event_type === 'signup.click').plan, 'pro');
  } finally {
    await client.end();
    await ctx.close();
  }
});
