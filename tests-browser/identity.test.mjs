// One person per visitor, with the real tracker in headless Chromium: a visitor browses
// anonymously, signs up (identify), goes on, then signs out (reset) and browses again. The API
// must count one person across the sign-up (overview visitors, a funnel from the anonymous step
// to the identified one) and a new visitor after the reset. The page hides its webdriver flag:
// automated browsers are bots, left out of every answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, db, env, poll, ready } from './helpers.mjs';

const demo = (p) => env('SIGHTLINE_DEMO_URL') + p;

async function gql(query, variables) {
  const r = await fetch(`${env('SIGHTLINE_URL')}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env('SIGHTLINE_ADMIN_TOKEN')}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  assert.ok(!body.errors, JSON.stringify(body));
  return body.data;
}

test('identify merges the anonymous visitor into the user; reset starts a new one', async () => {
  // A desktop Chrome's user agent: headless Chromium names itself `HeadlessChrome`, which the
  // server counts as a bot (left out of every answer this test reads).
  const ctx = await browser({
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  });
  const client = await db();
  try {
    const page = await ctx.newPage();
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false }));
    await page.goto(demo('/pricing.html'));
    const anon = await ready(page);
    const run = `id${Date.now()}`;
    const types = [`${run}.browse`, `${run}.signup`, `${run}.after`];
    const after = await page.evaluate(([browse, signup, later, r]) => {
      sightline.track(browse, { run: r });
      sightline.identify(`user-${r}`, {});
      sightline.track(signup, { run: r });
      sightline.reset();
      sightline.track(later, { run: r });
      sightline.flush();
      return localStorage.getItem('sightline_aid');
    }, [...types, run]);
    assert.ok(after && after !== anon, 'reset gives a new anonymous id');
    await poll(client, "SELECT 1 FROM activities WHERE project_id = $1 AND metadata->>'run' = $2",
      [env('SIGHTLINE_PROJECT_ID'), run], (rows) => rows.length >= 3, 15000);

    const now = Date.now();
    const range = { from: new Date(now - 3600e3).toISOString(), to: new Date(now + 3600e3).toISOString() };
    const only = (list) => ({ where: [{ dimension: 'EVENT_TYPE', values: list }] });
    const d = await gql(`query($p: ID!, $r: TimeRange!, $signup: EventFilter, $all: EventFilter, $s1: String!, $s2: String!) {
        signup: overview(projectId: $p, range: $r, filter: $signup) { events visitors visitorsExact }
        all: overview(projectId: $p, range: $r, filter: $all) { events visitors }
        funnel(projectId: $p, range: $r, steps: [{eventType: $s1}, {eventType: $s2}]) { steps { users } } }`,
    { p: env('SIGHTLINE_PROJECT_ID'), r: range, signup: only(types.slice(0, 2)), all: only(types), s1: types[0], s2: types[1] });
    assert.deepEqual(d.signup, { events: 2, visitors: 1, visitorsExact: true }, 'one person across the sign-up');
    assert.deepEqual(d.all, { events: 3, visitors: 2 }, 'a new visitor after reset');
    assert.deepEqual(d.funnel.steps.map((s) => s.users), [1, 1], 'the anonymous step and the identified one are one person');
  } finally {
    await client.end();
    await ctx.close();
  }
});
