// Shared helpers for browser tests: a headless Chromium (Debian's, driven by playwright-core)
// and polling of the real Postgres the server writes to.
import { chromium } from 'playwright-core';
import pg from 'pg';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through ./scripts/test`);
  return v;
};

// `options` are Playwright's context options (locale, viewport, ...).
export async function browser(options = {}) {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sightline-chromium-')), {
    ...options,
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function db() {
  const client = new pg.Client({ connectionString: env('DATABASE_URL') });
  await client.connect();
  return client;
}

// Polls `query` until `done(rows)` or the timeout; returns the last rows.
export async function poll(client, query, params, done, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  let rows = [];
  while (Date.now() < until) {
    rows = (await client.query(query, params)).rows;
    if (done(rows)) return rows;
    await new Promise((r) => setTimeout(r, 200));
  }
  return rows;
}

// Waits until the tracker's wasm is running on `page`; returns its anonymous id (null when
// nothing is stored: opted out, cookieless).
export async function ready(page) {
  await page.waitForFunction(() => window.sightline && window.sightline.ready, null, { timeout: 15000 });
  return page.evaluate(() => localStorage.getItem('sightline_aid'));
}

// Polls until at least `n` events of this anonymous id are stored, then waits `settleMs` more so
// that unexpected extra events would show up too; rows oldest first.
export async function eventsOf(client, anon, n, settleMs = 700) {
  const q = `SELECT event_id, event_type, path, referrer, entity_type, entity_id, session_id, metadata
             FROM activities WHERE project_id = $1 AND anonymous_id = $2 ORDER BY occurred_at, event_id`;
  const args = [env('SIGHTLINE_PROJECT_ID'), anon];
  await poll(client, q, args, (r) => r.length >= n, 15000);
  await new Promise((r) => setTimeout(r, settleMs));
  return (await client.query(q, args)).rows;
}

// Records the parsed body of every POST to /collect the page makes (beacons and fetches).
export function collectRequests(page) {
  const bodies = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/collect') {
      try { bodies.push(JSON.parse(r.postData() || '{}')); } catch { bodies.push({ events: [] }); }
    }
  });
  return bodies;
}

// Opens `url` (a demo page) with `attrs` set on its tracker script tag: the wasm is held back
// until they are set, and the tracker reads its options only when the wasm starts. (A page
// made up with route.fulfill would not do: Chromium then treats the document as public and
// refuses its requests to the loopback server.)
export async function openWithAttrs(page, url, attrs) {
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route('**/tracker/tracker_wasm_bg.wasm', async (route) => { await held; await route.continue(); });
  await page.goto(url);
  await page.waitForFunction(() => window.sightline);
  await page.evaluate((a) => {
    const tag = document.querySelector('script[data-key]');
    for (const [k, v] of Object.entries(a)) {
      if (v === null) tag.removeAttribute(k); else tag.setAttribute(k, v);
    }
  }, attrs);
  release();
  await page.waitForFunction(() => window.sightline && sightline.ready, null, { timeout: 15000 });
}

// Every event the page sent to /collect so far (from `collectRequests`' bodies), in order.
export const sentEvents = (bodies) => bodies.flatMap((b) => b.events || []);
