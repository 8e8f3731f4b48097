// The dashboard's session in a real browser: the token lives in an HttpOnly, Secure,
// SameSite=Strict cookie that page scripts cannot read (nothing token-like in storage either),
// and a form posted from another site, or from another origin of the same site, cannot run a
// mutation with it. The audit log view shows the sign-in; signing out clears the cookie.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { browser, env } from './helpers.mjs';

const base = () => env('SIGHTLINE_URL');

async function projectNames() {
  const r = await fetch(`${base()}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env('SIGHTLINE_ADMIN_TOKEN')}` },
    body: JSON.stringify({ query: '{ projects { name } }' }),
  });
  const body = await r.json();
  assert.ok(body.data, JSON.stringify(body));
  return body.data.projects.map((p) => p.name);
}

test('the session token is out of scripts\' reach and forms from other origins cannot mutate', async () => {
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    await page.goto(`${base()}/`);
    await page.getByLabel('Email').fill(env('SIGHTLINE_ADMIN_EMAIL'));
    await page.getByLabel('Password').fill(env('SIGHTLINE_ADMIN_PASSWORD'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('nav').waitFor({ timeout: 10000 });

    const session = (await ctx.cookies(base())).find((c) => c.name === 'sightline_session');
    assert.ok(session, 'the session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Strict');
    const seen = await page.evaluate(() => ({
      cookie: document.cookie,
      stored: [...Object.values(localStorage), ...Object.values(sessionStorage)].join('\n'),
    }));
    assert.ok(!seen.cookie.includes(session.value), 'document.cookie does not show the token');
    assert.ok(!seen.stored.includes(session.value), 'storage does not hold the token');
    assert.ok(!/eyJ[\w-]+\.eyJ/.test(seen.stored), `no JWT in storage: ${seen.stored}`);

    // Pages of another site (localhost is not 127.0.0.1) and of another origin of the same site
    // (the demo's port) post a form to /graphql and try a credentialed fetch.
    const demo = env('SIGHTLINE_DEMO_URL');
    for (const origin of [demo.replace('127.0.0.1', 'localhost'), demo]) {
      const name = `csrf-${randomUUID().slice(0, 8)}`;
      const attacker = await ctx.newPage();
      await attacker.goto(`${origin}/`);
      const query = `mutation { createProject(name: "${name}") { publicKey } }`;
      const answered = attacker.waitForResponse((r) => r.url() === `${base()}/graphql`, { timeout: 10000 });
      await attacker.evaluate(({ target, query }) => {
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = target;
        form.enctype = 'text/plain';
        const input = document.createElement('input');
        // text/plain bodies are `name=value`: the pair spells a JSON request.
        input.name = JSON.stringify({ query, pad: '' }).slice(0, -2);
        input.value = '"}';
        form.append(input);
        document.body.append(form);
        form.submit();
      }, { target: `${base()}/graphql`, query });
      const formResponse = await answered;
      assert.ok(formResponse.status() >= 400, `${origin}: the form post is refused (${formResponse.status()})`);
      const other = await ctx.newPage();
      await other.goto(`${origin}/`);
      const fetched = await other.evaluate(async ({ target, query }) => {
        try {
          const r = await fetch(target, {
            method: 'POST', credentials: 'include',
            headers: { 'content-type': 'application/json', 'x-sightline-csrf': '1' },
            body: JSON.stringify({ query }),
          });
          return `answered ${r.status}`;
        } catch {
          return 'blocked';
        }
      }, { target: `${base()}/graphql`, query });
      assert.equal(fetched, 'blocked', `${origin}: a credentialed cross-origin fetch is blocked`);
      await attacker.close();
      await other.close();
      assert.ok(!(await projectNames()).includes(name), `${origin}: no project was created`);
    }

    // The dashboard itself still works with the cookie: the audit log view shows this sign-in.
    await page.goto(`${base()}/#/audit`);
    const audit = page.locator('[data-testid=audit]');
    await audit.waitFor({ timeout: 10000 });
    const row = await audit.locator('tbody tr', { hasText: 'login.success' }).first().textContent();
    assert.ok(row.includes(env('SIGHTLINE_ADMIN_EMAIL')) && row.includes('127.0.0.1'), row);
    // Then signing out clears the cookie.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 5000 });
    const after = (await ctx.cookies(base())).find((c) => c.name === 'sightline_session');
    assert.equal(after, undefined, 'the cookie is gone after signing out');
  } finally {
    await ctx.close();
  }
});
