// The overview's breakdown panels in Chromium against a project seeded here through the
// server-side track API (per-event `ip` and `userAgent`, as a backend tracking on behalf of
// browsers): visits with known user agents, referrers, UTM tags, viewport widths and addresses.
// Every row the page shows is compared with a count computed in this file from the visits sent:
// the visit's browser, OS and device as its user agent says, its source and channel by the
// documented rules, its country read here from the same GeoIP database the server was given
// (SIGHTLINE_GEOIP_DB, with an MMDB reader of our own, not the server's). Row clicks filter every
// panel, the cards and the series; the copied link reproduces the view in a fresh browser; a
// panel's CSV equals its rows. Screenshots go to $SIGHTLINE_ARTIFACTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Reader } from 'mmdb-lib';
import { browser, env } from './helpers.mjs';

const base = () => env('SIGHTLINE_URL');
const shots = () => env('SIGHTLINE_ARTIFACTS');

async function gqlRaw(query, variables = {}) {
  const r = await fetch(`${base()}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env('SIGHTLINE_ADMIN_TOKEN')}` },
    body: JSON.stringify({ query, variables }),
  });
  return r.json();
}

async function gql(query, variables = {}) {
  const b = await gqlRaw(query, variables);
  assert.ok(b.data && !b.errors, JSON.stringify(b));
  return b.data;
}

// What each user agent is, as its vendor writes it (and docs/API.md's table names it).
const BROWSERS = {
  chromeWin: { ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36', browser: 'Chrome', os: 'Windows', device: 'desktop' },
  safariIos: { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1', browser: 'Safari', os: 'iOS', device: 'mobile' },
  firefoxLinux: { ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0', browser: 'Firefox', os: 'Linux', device: 'desktop' },
  googlebot: { ua: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', bot: true },
};

// Where a visit came from: its landing URL's query and referrer, and what the documented source
// and channel rules make of them.
const ORIGINS = {
  google: { referrer: 'https://www.google.com/search?q=sightline', query: '', source: 'Google', channel: 'Organic Search', host: 'google.com' },
  spring: { query: '?utm_source=newsletter&utm_medium=email&utm_campaign=spring', source: 'newsletter', channel: 'Email', campaign: 'spring' },
  launch: { query: '?utm_source=newsletter&utm_medium=email&utm_campaign=launch', source: 'newsletter', channel: 'Email', campaign: 'launch' },
  blog: { referrer: 'https://blog.example.org/post/1', query: '', source: 'blog.example.org', channel: 'Referral', host: 'blog.example.org' },
  direct: { query: '', source: 'Direct / None', channel: 'Direct' },
};

// Public addresses of well-known networks; their countries come from the database.
const IPS = ['8.8.8.8', '81.2.69.160', '133.242.0.3', '193.0.6.139'];

// The documented screen classes of a viewport width.
const screenOf = (w) => (w < 576 ? 'mobile' : w < 992 ? 'tablet' : w < 1440 ? 'laptop' : 'desktop');

// [visitor, visit, browser, address index, origin, viewport width, events: [type, path, minute, props]]
const VISITS = [
  ['a1', 's1', 'chromeWin', 0, 'google', 1280, [['page.view', '/', 0], ['page.view', '/pricing', 1], ['signup.completed', '/pricing', 2, { plan: 'pro' }]]],
  ['a2', 's2', 'safariIos', 1, 'spring', 390, [['page.view', '/', 5], ['page.view', '/docs', 6], ['download.started', '/docs', 7, { file: 'guide.pdf' }]]],
  ['a3', 's3', 'firefoxLinux', 0, 'blog', 1600, [['page.view', '/pricing', 20], ['signup.completed', '/pricing', 21, { plan: 'free' }]]],
  ['a4', 's4', 'safariIos', 2, 'google', 390, [['page.view', '/docs', 30], ['download.started', '/docs', 31, { file: 'guide.pdf' }], ['download.started', '/docs', 32, { file: 'tool.zip' }]]],
  ['a1', 's5', 'chromeWin', 0, 'direct', 1280, [['page.view', '/docs', 60]]],
  ['a5', 's6', 'chromeWin', 3, 'launch', 1280, [['page.view', '/pricing', 70], ['page.view', '/', 71], ['signup.completed', '/', 72, { plan: 'pro' }]]],
  // A crawler: left out of every panel and card, counted as bot events.
  ['b1', 's7', 'googlebot', 1, 'direct', 1280, [['page.view', '/', 80], ['page.view', '/pricing', 81]]],
];

const dayStart = (daysAgo) => { const d = new Date(); d.setUTCHours(0, 0, 0, 0); return d.getTime() - daysAgo * 86400e3; };
const isoDay = (t) => new Date(t).toISOString().slice(0, 10);
const D = dayStart(2);

// Every event with the attributes of its visit, as the truth knows them.
function truthEvents(country) {
  return VISITS.flatMap(([visitor, visit, b, ip, o, width, evs]) => evs.map(([type, path, min, props]) => ({
    visitor, visit, type, path, props, min, bot: Boolean(BROWSERS[b].bot),
    PAGE: path, EVENT_TYPE: type, SOURCE: ORIGINS[o].source, CHANNEL: ORIGINS[o].channel,
    UTM_CAMPAIGN: ORIGINS[o].campaign, REFERRER: ORIGINS[o].host, BROWSER: BROWSERS[b].browser, OS: BROWSERS[b].os,
    DEVICE: BROWSERS[b].device, SCREEN: screenOf(width), COUNTRY: country.get(IPS[ip]),
  })));
}

// A breakdown of human events by a key: [key, visitors, events], most visitors first.
function breakdown(evs, key) {
  const m = new Map();
  for (const e of evs) {
    const k = key(e);
    if (k === undefined || k === null) continue;
    const r = m.get(k) ?? { visitors: new Set(), events: 0 };
    r.visitors.add(e.visitor);
    r.events += 1;
    m.set(k, r);
  }
  return canon([...m].map(([k, r]) => [k, r.visitors.size, r.events]));
}

// Rows in the API's order: most visitors, then most events, then by key. Ties on both numbers
// are put in key order here (the database's collation may order mixed-case keys differently).
const canon = (rows) => [...rows].sort((a, b) => b[1] - a[1] || b[2] - a[2] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

function expected(all, where = () => true) {
  const hit = all.filter((e) => !e.bot && where(e));
  const visitors = new Set(hit.map((e) => e.visitor)).size;
  const rows = (dim) => breakdown(dim === 'EVENT_TYPE' ? hit.filter((e) => e.type !== 'page.view') : hit, (e) => e[dim]);
  return {
    visitors,
    sessions: new Set(hit.map((e) => e.visit)).size,
    pageViews: hit.filter((e) => e.type === 'page.view').length,
    events: hit.length,
    rows,
    prop: (name) => breakdown(hit, (e) => e.props?.[name]),
  };
}

function countries(path) {
  return readFile(path).then((buf) => {
    const reader = new Reader(buf);
    return new Map(IPS.map((ip) => {
      const rec = reader.get(ip);
      return [ip, rec?.country_code ?? rec?.country?.iso_code ?? 'unknown'];
    }));
  });
}

async function seed() {
  const d = await gql('mutation($n: String!) { createProject(name: $n, allowedOrigins: []) { project { id } secretKey } }',
    { n: `panels-${randomUUID().slice(0, 6)}` });
  const { project: { id }, secretKey } = d.createProject;
  // One request per visit, in order, as a backend forwarding a browser's beacons would.
  for (const [visitor, visit, b, ip, o, width, evs] of VISITS) {
    const origin = ORIGINS[o];
    const events = evs.map(([type, path, min, props], i) => ({
      id: randomUUID(), type, ts: D + 10 * 3600e3 + min * 60e3, anonymous_id: visitor, session_id: visit,
      url: `https://shop.example${path}${i === 0 ? origin.query : ''}`,
      ...(i === 0 && origin.referrer ? { referrer: origin.referrer } : {}),
      ...(type === 'page.view' ? { screen_width: width } : {}),
      ...(props ? { props } : {}),
      ip: IPS[ip], userAgent: BROWSERS[b].ua,
    }));
    const r = await fetch(`${base()}/api/v1/track`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${secretKey}` }, body: JSON.stringify({ events }),
    });
    const body = await r.json();
    assert.equal(r.status, 202, JSON.stringify(body));
    assert.deepEqual(body.rejected, [], JSON.stringify(body));
  }
  // Ready when the API counts every event (human ones, and the bot's as left out).
  const humans = VISITS.filter((v) => !BROWSERS[v[2]].bot).reduce((n, v) => n + v[6].length, 0);
  const bots = VISITS.filter((v) => BROWSERS[v[2]].bot).reduce((n, v) => n + v[6].length, 0);
  const range = { from: new Date(D).toISOString(), to: new Date(D + 86400e3).toISOString(), timeZone: 'UTC' };
  for (let i = 0; i < 150; i++) {
    const o = await gql('query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events botEvents } }', { p: id, r: range });
    if (o.overview.events >= humans && o.overview.botEvents >= bots) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 500));
  return { id, range, bots };
}

async function signInAt(page, url) {
  await page.goto(url);
  await page.getByLabel('Email').fill(env('SIGHTLINE_ADMIN_EMAIL'));
  await page.getByLabel('Password').fill(env('SIGHTLINE_ADMIN_PASSWORD'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('nav').waitFor({ timeout: 10000 });
}

async function failShot(page, name, e) {
  await page.screenshot({ path: `${shots()}/${name}-failed.png`, fullPage: true }).catch(() => {});
  throw e;
}

async function assertCards(page, { visitors, sessions, pageViews, events }) {
  await page.waitForFunction((w) => {
    const v = (id) => Number(document.querySelector(`[data-testid=card-${id}]`)?.getAttribute('data-value'));
    return v('visitors') === w.visitors && v('sessions') === w.sessions && v('pageViews') === w.pageViews && v('events') === w.events;
  }, { visitors, sessions, pageViews, events }, { timeout: 10000 }).catch((e) => failShot(page, 'panels-cards', e));
}

// Which tab a panel shows the rows of: clicks it when the panel has tabs.
async function showTab(page, panel, dimension) {
  const tab = page.locator(`[data-testid=panel-${panel}] [role=tab][data-dimension=${dimension}]`);
  if (await tab.count()) await tab.click();
  await page.locator(`[data-testid=panel-${panel}][data-dimension=${dimension}]`).waitFor({ timeout: 10000 });
}

// The rows a panel shows, once loaded (not busy) and with `want`'s keys: [key, visitors, events,
// share text].
async function shownRows(page, panel, want) {
  const p = `[data-testid=panel-${panel}]`;
  await page.waitForFunction(([sel, keys]) => {
    const el = document.querySelector(sel);
    if (!el || el.getAttribute('aria-busy') === 'true') return false;
    const got = [...el.querySelectorAll(':scope > [data-testid=rows] > [data-testid=row]')].map((li) => li.dataset.key);
    if (keys.length === 0) return el.querySelector(':scope > .empty') !== null;
    return JSON.stringify([...got].sort()) === JSON.stringify([...keys].sort());
  }, [p, want.map((r) => r[0])], { timeout: 10000 }).catch((e) => failShot(page, `panels-${panel}`, e));
  return page.locator(`${p} > [data-testid=rows] > [data-testid=row]`).evaluateAll((lis) => lis.map((li) => [
    li.dataset.key, Number(li.dataset.value), Number(li.dataset.events), li.querySelector('.row-share').textContent]));
}

const pct = (n, total) => `${((n / total) * 100).toFixed(1)}%`;

// Every panel tab against the truth: keys, visitors, share of all visitors, most visitors first;
// custom events also their event counts.
const TABS = [
  ['pages', 'PAGE'], ['sources', 'SOURCE'], ['sources', 'CHANNEL'], ['sources', 'UTM_CAMPAIGN'], ['sources', 'REFERRER'],
  ['devices', 'DEVICE'], ['devices', 'BROWSER'], ['devices', 'OS'], ['devices', 'SCREEN'], ['countries', 'COUNTRY'],
  ['events', 'EVENT_TYPE'],
];

async function assertPanels(page, want) {
  for (const [panel, dim] of TABS) {
    await showTab(page, panel, dim);
    const rows = want.rows(dim);
    const shown = await shownRows(page, panel, rows);
    assert.deepEqual(canon(shown.map(([k, v, e]) => [k, v, e])), rows, `${panel} ${dim} rows`);
    for (let i = 1; i < shown.length; i++) assert.ok(shown[i - 1][1] >= shown[i][1], `${panel} ${dim}: most visitors first`);
    for (const [k, v, , s] of shown) assert.equal(s, pct(v, want.visitors), `${panel} ${dim} ${k} share`);
  }
}

test('panels: breakdowns of known visits, row clicks filter everything, the link and CSV reproduce them', async () => {
  const country = await countries(env('SIGHTLINE_GEOIP_DB'));
  assert.ok(new Set([...country.values()].filter((c) => c !== 'unknown')).size >= 2, `addresses in two countries at least: ${[...country]}`);
  const all = truthEvents(country);
  const { id, range, bots } = await seed();
  const whole = expected(all);
  const url = `${base()}/?project=${id}&range=${isoDay(D)}..${isoDay(D)}&tz=UTC#/overview`;
  const ctx = await browser({ permissions: ['clipboard-read', 'clipboard-write'] });
  let copied;
  let filtered;
  try {
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1280, height: 1000 });
    await signInAt(page, url);
    await assertCards(page, whole);
    assert.equal(await page.getByTestId('bots').textContent(), `${bots} bot events left out.`);

    // Entry and exit pages and goals show only when the server answers them.
    await page.locator('[data-testid=panel-pages][data-probed]').waitFor({ timeout: 10000 });
    for (const [panel, dim] of [['pages', 'ENTRY_PAGE'], ['pages', 'EXIT_PAGE'], ['goals', 'GOAL']]) {
      const b = await gqlRaw('query($p: ID!, $r: TimeRange!, $d: Dimension!) { breakdown(projectId: $p, range: $r, dimension: $d, limit: 1) { key } }', { p: id, r: range, d: dim });
      const refused = b.errors?.[0]?.extensions?.code === 'BAD_USER_INPUT';
      const tab = page.locator(`[data-testid=panel-${panel}] [role=tab][data-dimension=${dim}], [data-testid=panel-${panel}][data-dimension=${dim}]`);
      if (refused) assert.equal(await tab.count(), 0, `${dim} is refused by the server: no tab`);
      else await tab.first().waitFor({ timeout: 10000 });
    }

    await assertPanels(page, whole);
    // The bar of a row is as wide as its share of visitors.
    await showTab(page, 'sources', 'SOURCE');
    const top = whole.rows('SOURCE')[0];
    const bar = await page.locator(`[data-testid=panel-sources] [data-testid=row][data-key="${top[0]}"] .row-bar`).evaluate((b) => b.style.width);
    assert.ok(bar.endsWith('%') && Math.abs(parseFloat(bar) - (top[1] / whole.visitors) * 100) < 0.05, `bar width ${bar}`);
    await page.locator('#metric').selectOption('PAGE_VIEWS');
    await page.locator(`[data-testid=series][data-total="${whole.pageViews}"]`).waitFor({ timeout: 10000 });
    await page.screenshot({ path: `${shots()}/panels.png`, fullPage: true });

    // A country row filters every panel, the cards and the series.
    const home = country.get(IPS[0]);
    await showTab(page, 'countries', 'COUNTRY');
    await page.locator(`[data-testid=panel-countries] [data-testid=row][data-key="${home}"] button`).click();
    const inHome = expected(all, (e) => e.COUNTRY === home);
    await page.getByTestId('chip').waitFor();
    assert.match(await page.getByTestId('chip').textContent(), /^Country is /);
    await assertCards(page, inHome);
    await assertPanels(page, inHome);
    await page.locator(`[data-testid=series][data-total="${inHome.pageViews}"]`).waitFor({ timeout: 10000 });

    // A second filter, from another panel: both apply.
    await showTab(page, 'devices', 'BROWSER');
    await page.locator('[data-testid=panel-devices] [data-testid=row][data-key="Chrome"] button').click();
    filtered = expected(all, (e) => e.COUNTRY === home && e.BROWSER === 'Chrome');
    await page.locator('[data-testid=chip]').nth(1).waitFor();
    await assertCards(page, filtered);
    await assertPanels(page, filtered);
    await page.locator(`[data-testid=series][data-total="${filtered.pageViews}"]`).waitFor({ timeout: 10000 });
    await page.screenshot({ path: `${shots()}/panels-filtered.png`, fullPage: true });
    assert.deepEqual(new URL(page.url()).searchParams.getAll('f'), [`country:is:${home}`, 'browser:is:Chrome']);

    // The copied link is the page's URL.
    await page.getByRole('button', { name: 'Copy link' }).click();
    copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, page.url());

    // A panel's CSV is its rows, and the truth.
    await showTab(page, 'sources', 'SOURCE');
    const shown = await shownRows(page, 'sources', filtered.rows('SOURCE'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=panel-sources] .csv').click()]);
    const csv = await readFile(await download.path(), 'utf8');
    assert.equal(csv, ['Source,Visitors,Share', ...shown.map(([k, v, , s]) => `${k},${v},${s}`)].join('\r\n') + '\r\n');
    assert.deepEqual(canon(csv.trim().split('\r\n').slice(1).map((l) => l.split(','))
      .map(([k, v]) => [k, Number(v), filtered.rows('SOURCE').find((r) => r[0] === k)?.[2]])), filtered.rows('SOURCE'));

    // Removing the country chip keeps the browser filter only.
    await page.getByRole('button', { name: `Remove filter Country ${home}` }).click();
    const chrome = expected(all, (e) => e.BROWSER === 'Chrome');
    await assertCards(page, chrome);
    await assertPanels(page, chrome);
    assert.deepEqual(new URL(page.url()).searchParams.getAll('f'), ['browser:is:Chrome']);
    await page.getByRole('button', { name: 'Remove filter Browser Chrome' }).click();
    await assertCards(page, whole);

    // A custom event, then its property: the property's values, and one of them as a filter.
    await page.locator('[data-testid=panel-events] [data-testid=row][data-key="signup.completed"] button').click();
    const signups = expected(all, (e) => e.type === 'signup.completed');
    await assertCards(page, signups);
    await page.getByLabel(/Property of signup.completed/).fill('plan');
    await page.getByRole('button', { name: 'Break down' }).click();
    const props = page.locator('[data-testid=property-breakdown] [data-testid=row]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=property-breakdown] [data-testid=row]').length === n, signups.prop('plan').length, { timeout: 10000 });
    assert.deepEqual(canon(await props.evaluateAll((lis) => lis.map((li) => [li.dataset.key, Number(li.dataset.value), Number(li.dataset.events)]))), signups.prop('plan'));
    await page.screenshot({ path: `${shots()}/panels-property.png`, fullPage: true });
    const [propCsv] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=property-breakdown] .csv').click()]);
    assert.equal(await readFile(await propCsv.path(), 'utf8'),
      ['plan,Visitors,Events,Share', ...await props.evaluateAll((lis) => lis.map((li) => `${li.dataset.key},${li.dataset.value},${li.dataset.events},${li.querySelector('.row-share').textContent}`))].join('\r\n') + '\r\n');
    await props.filter({ hasText: 'pro' }).locator('button').click();
    await assertCards(page, expected(all, (e) => e.type === 'signup.completed' && e.props?.plan === 'pro'));
    const q = new URL(page.url()).searchParams;
    assert.deepEqual(q.getAll('f'), ['event_type:is:signup.completed', 'property.plan:is:pro']);
    assert.equal(q.get('prop'), 'plan');
  } finally {
    await ctx.close();
  }

  // The copied link in a fresh browser (no session, nothing stored): the same two filters on
  // every panel, the cards and the series, once signed in.
  const fresh = await browser();
  try {
    const page = await fresh.newPage();
    await page.setViewportSize({ width: 1280, height: 1000 });
    await signInAt(page, copied);
    await page.locator('[data-testid=chip]').nth(1).waitFor({ timeout: 10000 });
    assert.equal(await page.locator('[data-testid=chip]').count(), 2);
    await assertCards(page, filtered);
    await assertPanels(page, filtered);
    await page.locator('#metric').selectOption('PAGE_VIEWS');
    await page.locator(`[data-testid=series][data-total="${filtered.pageViews}"]`).waitFor({ timeout: 10000 });
    await page.screenshot({ path: `${shots()}/panels-shared-link.png`, fullPage: true });

    // A link with the other operators (written by hand: the page only adds `is` filters).
    const other = new URL(copied);
    other.searchParams.delete('f');
    other.searchParams.append('f', 'channel:not:Email');
    other.searchParams.append('f', 'page:has:PRI');
    await page.goto(other.href);
    const notEmail = expected(all, (e) => e.CHANNEL !== 'Email' && e.PAGE.toLowerCase().includes('pri'));
    await page.locator('[data-testid=chip]').nth(1).waitFor({ timeout: 10000 });
    assert.deepEqual(await page.locator('[data-testid=chip] > span').allTextContents(), ['Channel is not Email', 'Page contains PRI']);
    await assertCards(page, notEmail);
    await assertPanels(page, notEmail);
  } finally {
    await fresh.close();
  }
});
