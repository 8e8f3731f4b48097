// Single sign-on end to end: a real, certified OpenID Connect provider (the `oidc-provider`
// package) started here, a client registered with it (authorization code flow, PKCE required),
// and two Sightline servers (the same binary and database as the rest of the suite) configured
// for it: one that creates accounts at first sign-in, one that does not. In Chromium: "Sign in
// with SSO" on the dashboard, the provider's own login and consent pages, and back on the
// dashboard signed in with the role and projects the provider's claims grant (checked with
// `me`); an unknown person refused where creation is off; a disabled account refused.
//
// The provider releases the Sightline claims at userinfo only (its default, as the standard
// asks for claims requested by scope), so the server's userinfo path is exercised too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import Provider from 'oidc-provider';
import { browser as chromium, db, env } from './helpers.mjs';

// A browser that reaches this machine only: the provider's development pages import a web
// font from the internet, which is not fetched.
async function browser() {
  const ctx = await chromium();
  await ctx.route((u) => u.hostname !== '127.0.0.1', (route) => route.abort());
  return ctx;
}

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const run = randomUUID().slice(0, 8);
// The people the provider knows: login name -> claims.
const people = {};
const person = (login, claims) => { people[login] = { email: `${login}-${run}@sso.example`, email_verified: true, ...claims }; return people[login]; };

let issuer;
let providerServer;
const servers = {};
const children = [];
let pg;

async function startProvider(redirects) {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'sightline',
      client_secret: 'sightline-test-secret',
      redirect_uris: redirects,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    // PKCE for every client, confidential ones included.
    pkce: { required: () => true },
    jwks: { keys: [jwk] },
    scopes: ['openid', 'email', 'sightline'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      sightline: ['sightline_role', 'sightline_projects'],
    },
    cookies: { keys: ['oidc-test-cookie-key'] },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      if (!people[id]) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...people[id] }) };
    },
  });
  providerServer = http.createServer(provider.callback());
  await new Promise((r) => providerServer.listen(port, '127.0.0.1', r));
}

// A Sightline server (`serve`: HTTP only) for the provider, on its own port.
async function startServer(port, createAccounts) {
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(env('SIGHTLINE_BIN'), ['serve'], {
    env: {
      ...process.env,
      SIGHTLINE_BIND: `127.0.0.1:${port}`,
      SIGHTLINE_OIDC_ISSUER: issuer,
      SIGHTLINE_OIDC_CLIENT_ID: 'sightline',
      SIGHTLINE_OIDC_CLIENT_SECRET: 'sightline-test-secret',
      SIGHTLINE_OIDC_REDIRECT_URL: `${base}/auth/oidc/callback`,
      SIGHTLINE_OIDC_SCOPES: 'email,sightline',
      SIGHTLINE_OIDC_CREATE_ACCOUNTS: String(createAccounts),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log = (log + d).slice(-4000); });
  children.push(child);
  for (let i = 0; i < 150; i += 1) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return base;
    } catch { /* not yet */ }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the SSO server on ${port} did not start:\n${log}`);
}

before(async () => {
  const [a, b] = [await freePort(), await freePort()];
  await startProvider([a, b].map((p) => `http://127.0.0.1:${p}/auth/oidc/callback`));
  servers.creating = await startServer(a, true);
  servers.closed = await startServer(b, false);
  pg = await db();
});

after(async () => {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => providerServer?.close(r) ?? r());
  await pg?.end();
});

async function adminGql(query, variables = {}) {
  const r = await fetch(`${env('SIGHTLINE_URL')}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env('SIGHTLINE_ADMIN_TOKEN')}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  assert.ok(body.data && !body.errors, JSON.stringify(body));
  return body.data;
}

// Clicks "Sign in with SSO" on `base`'s dashboard and signs in as `login` at the provider
// (its development login and consent pages).
async function signInWithSso(page, base, login) {
  await page.goto(`${base}/`);
  await page.getByRole('link', { name: 'Sign in with SSO' }).click();
  await atProvider(page, base, login);
}

// Signs in as `login` on the provider's pages `page` shows, until it sends the browser back
// to `base`.
async function atProvider(page, base, login) {
  await page.waitForURL((u) => u.origin === issuer, { timeout: 10000 });
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.origin === base, { timeout: 10000 });
}

// `me` as the page's session (cookie + CSRF header, as the dashboard asks).
const me = (page) => page.evaluate(async () => {
  const r = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sightline-csrf': '1' },
    body: JSON.stringify({ query: '{ me { subject role projects expiresAt } }' }),
  });
  return r.json();
});

const auditOf = async (email) => (await pg.query(
  "SELECT action, detail FROM audit_log WHERE actor = $1 AND detail->>'method' = 'sso' ORDER BY id",
  [email],
)).rows;

test('the sign-in page offers SSO only where it is configured', async () => {
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    for (const [base, offered] of [[servers.creating, 1], [env('SIGHTLINE_URL'), 0]]) {
      const asked = page.waitForResponse((r) => r.url() === `${base}/graphql`);
      await page.goto(`${base}/`);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await asked;
      await page.waitForTimeout(200);
      assert.equal(await page.getByRole('link', { name: 'Sign in with SSO' }).count(), offered, base);
    }
    assert.equal((await fetch(`${env('SIGHTLINE_URL')}/auth/oidc/login`, { redirect: 'manual' })).status, 404);
  } finally {
    await ctx.close();
  }
});

test('single sign-on creates the account with the role and projects of its claims', async () => {
  const project = env('SIGHTLINE_PROJECT_ID');
  const ada = person('ada', { sightline_role: 'analyst', sightline_projects: [project] });
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    let callback;
    page.on('request', (r) => { if (r.url().includes('/auth/oidc/callback')) callback = r.url(); });
    await signInWithSso(page, servers.creating, 'ada');
    // The dashboard took the session over: its shell shows the role.
    await page.locator('nav').waitFor({ timeout: 10000 });
    assert.equal(await page.locator('[data-testid=role]').textContent(), 'analyst');
    assert.ok(page.url().endsWith('#/overview'), page.url());
    const who = await me(page);
    assert.deepEqual(who.data.me.subject, ada.email, JSON.stringify(who));
    assert.equal(who.data.me.role, 'analyst');
    assert.deepEqual(who.data.me.projects, [project]);
    assert.ok(Date.parse(who.data.me.expiresAt) > Date.now(), who.data.me.expiresAt);

    const session = (await ctx.cookies(servers.creating)).find((c) => c.name === 'sightline_session');
    assert.ok(session && session.httpOnly && session.secure && session.sameSite === 'Strict', JSON.stringify(session));
    assert.equal((await ctx.cookies(servers.creating)).find((c) => c.name === 'sightline_oidc'), undefined,
      'the sign-in cookie is gone once used');

    const [row] = (await pg.query(
      'SELECT role, project_ids::text[] AS projects, oidc_issuer, oidc_subject, password_hash FROM accounts WHERE email = $1',
      [ada.email],
    )).rows;
    assert.deepEqual(row, { role: 'analyst', projects: [project], oidc_issuer: issuer, oidc_subject: 'ada', password_hash: null });
    const audit = await auditOf(ada.email);
    assert.deepEqual(audit.map((a) => a.action), ['login.success']);
    assert.equal(audit[0].detail.issuer, issuer);

    // The callback URL (code and state) works once: replayed, it signs nobody in.
    assert.match(callback, /[?&]code=.+&?/);
    const replay = await fetch(callback, { redirect: 'manual' });
    assert.equal(replay.status, 400);
    assert.equal(replay.headers.get('set-cookie')?.includes('sightline_session=ey'), false);
    // A state nobody started neither.
    assert.equal((await fetch(`${servers.creating}/auth/oidc/callback?code=x&state=forged`, { redirect: 'manual' })).status, 400);

    // An account that single sign-on opened has no password to log in with.
    const login = await (await fetch(`${servers.creating}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation($e: String!) { login(email: $e, password: "any password at all") { role } }', variables: { e: ada.email } }),
    })).json();
    assert.equal(login.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(login));

    // The provider now says viewer: the next sign-in follows, and the older session is revoked.
    people.ada.sightline_role = 'viewer';
    const second = await browser();
    try {
      const page2 = await second.newPage();
      await signInWithSso(page2, servers.creating, 'ada');
      await page2.locator('nav').waitFor({ timeout: 10000 });
      assert.equal((await me(page2)).data.me.role, 'viewer');
    } finally {
      await second.close();
    }
    await new Promise((r) => setTimeout(r, 5500)); // the revocation cache's lifetime
    const old = await me(page);
    assert.equal(old.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(old));
  } finally {
    await ctx.close();
  }
});

test('without account creation an unknown person is refused', async () => {
  const bob = person('bob', { sightline_role: 'admin', sightline_projects: ['*'] });
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    const refused = page.waitForResponse((r) => r.url().startsWith(`${servers.closed}/auth/oidc/callback`));
    await signInWithSso(page, servers.closed, 'bob');
    assert.equal((await refused).status(), 403);
    const text = await page.locator('[data-testid=sso-error]').textContent();
    assert.match(text, /no Sightline account/);
    assert.equal((await ctx.cookies(servers.closed)).find((c) => c.name === 'sightline_session'), undefined);
    assert.equal((await pg.query('SELECT 1 FROM accounts WHERE email = $1', [bob.email])).rowCount, 0);
    const audit = await auditOf(bob.email);
    assert.deepEqual(audit.map((a) => [a.action, a.detail.reason]), [['login.failure', 'no_account']]);
  } finally {
    await ctx.close();
  }
});

test('an existing account is linked by its verified email, and refused once disabled', async () => {
  const project = env('SIGHTLINE_PROJECT_ID');
  const carol = person('carol', { sightline_role: 'viewer', sightline_projects: [project] });
  const { createAccount } = await adminGql(
    'mutation($e: String!, $p: [ID!]) { createAccount(email: $e, password: "carol-password-1234", role: ANALYST, projectIds: $p) { id } }',
    { e: carol.email, p: [project] },
  );
  const ctx = await browser();
  try {
    // Creation is off here, but the account exists: it is linked and takes the claims' role.
    const page = await ctx.newPage();
    await signInWithSso(page, servers.closed, 'carol');
    await page.locator('nav').waitFor({ timeout: 10000 });
    assert.equal((await me(page)).data.me.role, 'viewer');
    const [row] = (await pg.query('SELECT oidc_subject, role FROM accounts WHERE id = $1', [createAccount.id])).rows;
    assert.deepEqual(row, { oidc_subject: 'carol', role: 'viewer' });

    await adminGql('mutation($id: ID!) { disableAccount(id: $id) { id } }', { id: createAccount.id });
    const other = await browser();
    try {
      const page2 = await other.newPage();
      const refused = page2.waitForResponse((r) => r.url().startsWith(`${servers.closed}/auth/oidc/callback`));
      await signInWithSso(page2, servers.closed, 'carol');
      assert.equal((await refused).status(), 403);
      assert.match(await page2.locator('[data-testid=sso-error]').textContent(), /disabled/);
      assert.equal((await other.cookies(servers.closed)).find((c) => c.name === 'sightline_session'), undefined);
    } finally {
      await other.close();
    }
    const audit = await auditOf(carol.email);
    assert.deepEqual(audit.map((a) => [a.action, a.detail.reason ?? null]), [['login.success', null], ['login.failure', 'disabled']]);
  } finally {
    await ctx.close();
  }
});

test('a sign-in completes only in the browser that started it', async () => {
  person('dave', { sightline_role: 'viewer', sightline_projects: [env('SIGHTLINE_PROJECT_ID')] });
  // Someone starts a sign-in (and keeps its cookie), then gets another browser to complete it
  // at the provider: the classic login CSRF.
  const started = await fetch(`${servers.creating}/auth/oidc/login`, { redirect: 'manual' });
  assert.equal(started.status, 303);
  assert.match(started.headers.get('set-cookie'), /sightline_oidc=\w+; Path=\/auth\/oidc; Max-Age=600; HttpOnly; Secure; SameSite=Lax/);
  const authorize = new URL(started.headers.get('location'));
  assert.equal(authorize.origin, issuer);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  for (const p of ['state', 'nonce', 'code_challenge']) assert.ok(authorize.searchParams.get(p), p);
  const victim = await browser();
  try {
    const page = await victim.newPage();
    const answered = page.waitForResponse((r) => r.url().startsWith(`${servers.creating}/auth/oidc/callback`));
    await page.goto(authorize.href);
    await atProvider(page, servers.creating, 'dave');
    assert.equal((await answered).status(), 400);
    assert.match(await page.locator('[data-testid=sso-error]').textContent(), /not started in this browser/);
    assert.equal((await victim.cookies(servers.creating)).find((c) => c.name === 'sightline_session'), undefined);
    const [entry] = (await pg.query(
      "SELECT detail FROM audit_log WHERE action = 'login.failure' AND detail->>'reason' = 'browser' ORDER BY id DESC LIMIT 1",
    )).rows;
    assert.equal(entry?.detail.method, 'sso');
  } finally {
    await victim.close();
  }
});

test('a sign-in cancelled at the provider is refused with its answer', async () => {
  const ctx = await browser();
  try {
    const page = await ctx.newPage();
    await page.goto(`${servers.creating}/`);
    await page.getByRole('link', { name: 'Sign in with SSO' }).click();
    await page.waitForURL((u) => u.origin === issuer, { timeout: 10000 });
    const answered = page.waitForResponse((r) => r.url().startsWith(`${servers.creating}/auth/oidc/callback`));
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
    assert.equal((await answered).status(), 403);
    assert.match(await page.locator('[data-testid=sso-error]').textContent(), /access_denied/);
    assert.equal((await ctx.cookies(servers.creating)).find((c) => c.name === 'sightline_session'), undefined);
    const [entry] = (await pg.query(
      "SELECT detail FROM audit_log WHERE action = 'login.failure' AND detail->>'reason' = 'provider' ORDER BY id DESC LIMIT 1",
    )).rows;
    assert.equal(entry?.detail.error, 'access_denied');
  } finally {
    await ctx.close();
  }
});

// Last: it uses up this address's starts for a minute.
test('one address may start only so many sign-ins a minute', async () => {
  const statuses = [];
  for (let i = 0; i < 40; i += 1) {
    const r = await fetch(`${servers.closed}/auth/oidc/login`, { redirect: 'manual' });
    statuses.push(r.status);
    if (r.status === 429) {
      assert.equal(r.headers.get('retry-after'), '60');
      break;
    }
  }
  assert.equal(statuses.at(-1), 429, statuses.join(' '));
  assert.ok(statuses.slice(0, -1).every((s) => s === 303), statuses.join(' '));
  assert.ok(statuses.length <= 31, `at most 30 starts a minute: ${statuses.length - 1} were let through`);
});
