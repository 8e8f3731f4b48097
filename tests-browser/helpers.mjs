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

export async function browser() {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sightline-chromium-')), {
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
