// Stored hostile strings run nothing: events whose paths, titles, referrers, selectors, ids and
// properties (keys and values) hold HTML and `javascript:` URLs, and a project named like
// markup, are shown in every dashboard view and in the live feed. Each payload, if it ever ran,
// would set `window.__xss`; the page must also report no Content-Security-Policy violation
// (which would mean some markup got through the escaping and was only stopped by the CSP, or
// that the dashboard itself breaks its own policy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { browser, env } from './helpers.mjs';

const base = () => env('SIGHTLINE_URL');
const tag = randomUUID().slice(0, 8);
const P = {
  img: `<img src=x onerror="window.__xss='img-${tag}'">`,
  svg: `"><svg onload="window.__xss='svg-${tag}'">`,
  script: `<script>window.__xss='script-${tag}'</script>`,
  js: `javascript:window.__xss='js-${tag}'`,
  attr: `' onmouseover='window.__xss=1' x='`,
};

async function gql(token, query, variables = {}) {
  const r = await fetch(`${base()}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return r.json();
}

async function collect(events) {
  const r = await fetch(`${base()}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ key: env('SIGHTLINE_PUBLIC_KEY'), events }) });
  assert.equal(r.status, 202, await r.text());
}

const hostileUser = `u-${tag}-${P.img}`;

function hostileEvents() {
  const common = () => ({
    id: randomUUID(), ts: Date.now(), session_id: `s-${tag}`, user_id: hostileUser,
    community_id: `c-${P.svg}`, referrer: P.js, title: P.script,
  });
  return [
    { ...common(), type: 'page.view', url: `https://shop.example/${encodeURI(P.img)}?q=${encodeURIComponent(P.svg)}` },
    { ...common(), type: 'page.view', url: `https://shop.example/p/${P.script}` },
    { ...common(), type: 'element.click', entity_type: P.img, entity_id: P.js, url: 'https://shop.example/',
      props: { selector: `a[href="${P.js}"]${P.img}`, text: P.svg, href: P.js, [P.img]: P.script, plan: P.attr } },
    { ...common(), type: 'page.scroll', url: `https://shop.example/${P.svg}`, props: { depth: 50, prev: 0 } },
  ];
}

async function noScriptRan(page, where) {
  const state = await page.evaluate(() => ({ xss: window.__xss ?? null, csp: window.__csp ?? [] }));
  assert.equal(state.xss, null, `${where}: a payload ran (${state.xss})`);
  assert.deepEqual(state.csp, [], `${where}: CSP violations ${JSON.stringify(state.csp)}`);
}

test('hostile strings in events and names run no script in any view or the live feed', async () => {
  const admin = env('SIGHTLINE_ADMIN_TOKEN');
  const created = await gql(admin, 'mutation($n: String!) { createProject(name: $n) { project { id } } }', { n: `${P.img} ${tag}` });
  assert.ok(created.data, JSON.stringify(created));
  const events = hostileEvents();
  await collect(events);
  // Stored (the views read the database).
  const range = { from: new Date(Date.now() - 3600e3).toISOString(), to: new Date(Date.now() + 3600e3).toISOString() };
  for (let i = 0; i < 50; i++) {
    const r = await gql(admin, 'query($p: ID!, $u: String!) { user(projectId: $p, id: $u) { events } }', { p: env('SIGHTLINE_PROJECT_ID'), u: hostileUser, r: range });
    if (r.data?.user?.events >= events.length) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    let dialogs = 0;
    page.on('dialog', (d) => { dialogs += 1; void d.dismiss(); });
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample ?? ''}`.trim());
      });
    });
    await page.goto(`${base()}/`);
    await page.getByLabel('Email').fill(env('SIGHTLINE_ADMIN_EMAIL'));
    await page.getByLabel('Password').fill(env('SIGHTLINE_ADMIN_PASSWORD'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('nav').waitFor({ timeout: 10000 });
    // The demo project, whose events are hostile (the project picker lists the hostile name).
    await page.selectOption('#project', env('SIGHTLINE_PROJECT_ID'));
    for (const view of ['overview', 'pages', 'behaviour', 'funnel', 'retention', 'events', 'projects', 'accounts', 'deadletters']) {
      await page.goto(`${base()}/#/${view}`);
      await page.locator('main h1').waitFor();
      await page.waitForFunction(() => !document.querySelector('main .spinner'), null, { timeout: 10000 });
      await page.waitForTimeout(300);
      // Hover everything once: an injected on* attribute would fire.
      await page.evaluate(() => { for (const el of document.querySelectorAll('main *')) el.dispatchEvent(new MouseEvent('mouseover', { bubbles: true })); });
      await noScriptRan(page, view);
    }
    // The hostile text is shown as text somewhere (the views did render it).
    await page.goto(`${base()}/#/events`);
    await page.locator('[data-testid=events] tbody tr').first().waitFor({ timeout: 10000 });
    const shown = await page.locator('main').textContent();
    assert.ok(shown.includes(`onerror="window.__xss='img-${tag}'"`) || shown.includes(`window.__xss='`), 'hostile strings are displayed as text');
    // Every link on the page leads nowhere dangerous.
    const hrefs = await page.evaluate(() => [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')));
    assert.ok(hrefs.every((h) => !/^\s*javascript:/i.test(h)), `no javascript: link: ${hrefs}`);
    await noScriptRan(page, 'events');

    // A user's timeline.
    await page.goto(`${base()}/#/users`);
    await page.getByLabel('User id').fill(hostileUser);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForFunction(() => document.querySelector('#out')?.textContent.length > 0, null, { timeout: 10000 });
    await page.waitForTimeout(300);
    await noScriptRan(page, 'users');

    // The live feed, while hostile events arrive.
    await page.goto(`${base()}/#/live`);
    await page.locator('[data-testid=feed]').waitFor({ state: 'attached' });
    await page.waitForTimeout(800);
    const live = hostileEvents();
    await collect(live);
    await page.locator(`[data-testid=feed] li[data-id="${live[0].id}"]`).waitFor({ timeout: 5000 });
    await page.waitForTimeout(300);
    await noScriptRan(page, 'live');
    assert.equal(dialogs, 0, 'no dialog opened');
  } finally {
    await ctx.close();
  }
});
