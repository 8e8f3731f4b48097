import { describe, expect, it } from 'vitest';
import { customRange, intervalFor, isValidTimeZone, nextWholeHour, presetRange } from './range';
import { canUse, viewsFor } from './roles';
import { compact, esc, parseProps, percent } from './format';
import { ApiError, loadSession, requestAuth, unwrap } from './api';
import { shareTokenOf } from './urlstate';
import { shareUrl } from './views/sharing';

describe('ranges', () => {
  it('presets end on the next whole hour so rollups answer', () => {
    const now = Date.parse('2026-11-24T10:17:05Z');
    expect(new Date(nextWholeHour(now)).toISOString()).toBe('2026-11-24T11:00:00.000Z');
    const r = presetRange('7d', 'Europe/Paris', now);
    expect(r).toEqual({ from: '2026-11-17T11:00:00.000Z', to: '2026-11-24T11:00:00.000Z', timeZone: 'Europe/Paris' });
  });
  it('custom ranges are whole days and validated', () => {
    expect(customRange('2026-11-01', '2026-11-02', 'UTC')).toEqual({ from: '2026-11-01T00:00:00.000Z', to: '2026-11-03T00:00:00.000Z', timeZone: 'UTC' });
    expect(customRange('2026-11-02', '2026-11-01', 'UTC')).toMatch(/before/);
    expect(customRange('yesterday', '2026-11-01', 'UTC')).toMatch(/Dates/);
  });
  it('picks an interval the server accepts', () => {
    expect(intervalFor(presetRange('24h', 'UTC'))).toBe('HOUR');
    expect(intervalFor(presetRange('30d', 'UTC'))).toBe('DAY');
    expect(intervalFor({ from: '2026-11-24T10:00:00Z', to: '2026-11-24T11:00:00Z', timeZone: 'UTC' })).toBe('MINUTE');
  });
  it('checks time zones', () => {
    expect(isValidTimeZone('Asia/Kolkata')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe('roles', () => {
  it('viewers get aggregates only', () => {
    expect(viewsFor('viewer', false)).not.toContain('events');
    expect(viewsFor('viewer', false)).not.toContain('live');
    expect(viewsFor('viewer', false)).not.toContain('projects');
    expect(canUse('viewer', false, 'overview')).toBe(true);
  });
  it('analysts get raw data but no administration; scoped admins no cross-tenant views', () => {
    expect(canUse('analyst', false, 'events')).toBe(true);
    expect(canUse('analyst', false, 'accounts')).toBe(false);
    expect(canUse('admin', false, 'deadletters')).toBe(false);
    expect(canUse('admin', true, 'deadletters')).toBe(true);
    expect(viewsFor('service', false)).toEqual([]);
  });
});

describe('formatting', () => {
  it('formats numbers and escapes html', () => {
    expect(compact(1234)).toBe('1,234');
    expect(compact(12_345)).toBe('12.3k');
    expect(compact(2_500_000)).toBe('2.5M');
    expect(percent(0.4567)).toBe('45.7%');
    expect(esc('<img src=x onerror="a">')).toBe('&lt;img src=x onerror=&quot;a&quot;&gt;');
  });
});

describe('api', () => {
  it('turns GraphQL errors into coded errors', () => {
    expect(() => unwrap(200, { errors: [{ message: 'nope', extensions: { code: 'FORBIDDEN' } }] })).toThrowError(ApiError);
    // Asserts that it throws, and what: a try/catch alone would pass if nothing were thrown.
    let thrown: unknown = null;
    try {
      unwrap(200, { errors: [{ message: 'expired', extensions: { code: 'UNAUTHENTICATED' } }] });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as ApiError).code).toBe('UNAUTHENTICATED');
    expect(unwrap(200, { data: { me: { role: 'admin' } } })).toEqual({ me: { role: 'admin' } });
    expect(() => unwrap(502, null)).toThrowError(/502/);
  });
  it('drops an expired session', () => {
    const store = (v: unknown) => ({ getItem: () => JSON.stringify(v) });
    const s = { expiresAt: '2026-11-24T10:00:00Z', role: 'admin', email: 'a@b' };
    expect(loadSession(store(s), Date.parse('2026-11-24T09:00:00Z'))).toEqual(s);
    expect(loadSession(store(s), Date.parse('2026-11-24T11:00:00Z'))).toBeNull();
    // A session stored with its token (before cookies) is dropped.
    expect(loadSession(store({ ...s, token: 't' }), Date.parse('2026-11-24T09:00:00Z'))).toBeNull();
    expect(loadSession({ getItem: () => 'garbage{' })).toBeNull();
  });
});

describe('property filters', () => {
  it('reads a JSON object or key=value pairs, and says what is wrong otherwise', () => {
    expect(parseProps('  ')).toBeNull();
    expect(parseProps('{"plan": "pro", "seats": 3}')).toEqual({ plan: 'pro', seats: 3 });
    expect(parseProps('plan=pro, selector = main > button.cta')).toEqual({ plan: 'pro', selector: 'main > button.cta' });
    expect(parseProps('a=b=c')).toEqual({ a: 'b=c' });
    expect(parseProps('["plan"]')).toMatch(/key=value/);
    expect(parseProps('{"plan": ')).toMatch(/JSON object/);
    expect(parseProps('[1]')).toMatch(/key=value/);
    expect(parseProps('{"a":1} x')).toMatch(/JSON object/);
    expect(parseProps('=pro')).toMatch(/key=value/);
  });
});

describe('shared links', () => {
  const token = `shr_${'ab'.repeat(32)}`;
  it('finds the token of a shared page only', () => {
    expect(shareTokenOf(`#/share/${token}`)).toBe(token);
    expect(shareTokenOf(`#/share/${token}/`)).toBe(token);
    expect(shareTokenOf('#/overview')).toBeNull();
    expect(shareTokenOf('#/share/')).toBeNull();
    expect(shareTokenOf('#/share/a"b')).toBeNull();
  });
  it('sends the token instead of the session, and no cookie', () => {
    const shared = requestAuth(token);
    expect(shared.headers['x-sightline-share']).toBe(token);
    expect(shared.headers['x-sightline-csrf']).toBeUndefined();
    expect(shared.credentials).toBe('omit');
    const session = requestAuth(null);
    expect(session.headers['x-sightline-csrf']).toBe('1');
    expect(session.headers['x-sightline-share']).toBeUndefined();
    expect(session.credentials).toBe('same-origin');
  });
  it('builds the full URL of a link', () => {
    expect(shareUrl('https://sl.example/', `/#/share/${token}`)).toBe(`https://sl.example/#/share/${token}`);
  });
});
