import { describe, expect, it } from 'vitest';
import { change, changeText, csvCell, eventFilter, flag, toCsv, withFilter, withoutFilter } from './model';
import { decodeFilter, encodeFilter, prefFromUrl, prefToUrl, readView, writeView } from '../urlstate';

describe('url state', () => {
  it('round-trips filters and comparison through the query string, keeping other parameters', () => {
    const v = { filters: [{ dimension: 'PAGE', op: 'IS' as const, value: '/a:b?c=d&e' }, { dimension: 'PROPERTY', property: 'plan', op: 'IS_NOT' as const, value: 'pro' }], compare: 'PREVIOUS_YEAR' as const };
    const s = writeView('?project=p1&range=7d', v);
    expect(new URLSearchParams(s).get('project')).toBe('p1');
    expect(readView(s)).toEqual(v);
    expect(readView(writeView(s, { filters: [], compare: null }))).toEqual({ filters: [], compare: null });
    expect(writeView('?f=page:is:/x&compare=previous_period', { filters: [], compare: null })).toBe('');
  });
  it('ignores malformed filters', () => {
    expect(decodeFilter('page')).toBeNull();
    expect(decodeFilter('page:maybe:/x')).toBeNull();
    expect(decodeFilter('pa ge:is:/x')).toBeNull();
    expect(decodeFilter('property.:is:x')).toBeNull();
    expect(decodeFilter(encodeFilter({ dimension: 'COUNTRY', op: 'CONTAINS', value: '' }))).toEqual({ dimension: 'COUNTRY', op: 'CONTAINS', value: '' });
  });
  it('maps shell preferences to range, project and tz parameters', () => {
    expect(prefFromUrl('?range=2026-11-01..2026-11-07', 'preset')).toBe('custom');
    expect(prefFromUrl('?range=2026-11-01..2026-11-07', 'custom')).toBe('2026-11-01..2026-11-07');
    expect(prefFromUrl('?range=30d', 'preset')).toBe('30d');
    expect(prefFromUrl('?range=30d', 'custom')).toBeNull();
    expect(prefFromUrl('', 'tz')).toBeNull();
    expect(prefToUrl('?project=a', 'tz', 'Asia/Kolkata', null)).toBe('?project=a&tz=Asia%2FKolkata');
    expect(prefToUrl('?range=7d', 'preset', 'custom', '2026-11-01..2026-11-02')).toBe('?range=2026-11-01..2026-11-02');
  });
});

describe('overview model', () => {
  it('sends the filters the server applies', () => {
    expect(eventFilter([])).toBeNull();
    expect(eventFilter([{ dimension: 'PAGE', op: 'IS', value: '/p' }, { dimension: 'EVENT_TYPE', op: 'IS', value: 'x.y' }])).toEqual({ path: '/p', eventType: 'x.y' });
  });
  it('replaces a filter on the same dimension and removes by position', () => {
    const a = withFilter([], { dimension: 'PAGE', op: 'IS', value: '/a' });
    const b = withFilter(a, { dimension: 'PAGE', op: 'IS', value: '/b' });
    expect(b).toEqual([{ dimension: 'PAGE', op: 'IS', value: '/b' }]);
    expect(withoutFilter(withFilter(b, { dimension: 'EVENT_TYPE', op: 'IS', value: 'e' }), 0)).toEqual([{ dimension: 'EVENT_TYPE', op: 'IS', value: 'e' }]);
  });
  it('describes changes', () => {
    expect(change(15, 10)).toBeCloseTo(0.5);
    expect(change(5, 0)).toBeNull();
    expect(change(0, 0)).toBe(0);
    expect(change(5, null)).toBeNull();
    expect(changeText(0.5)).toBe('↑50%');
    expect(changeText(-0.25)).toBe('↓25%');
    expect(changeText(null)).toBe('–');
  });
  it('writes CSV with quoting and defused formulas', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvCell(-3)).toBe('-3');
    expect(toCsv('Page', 'Views', [{ key: '/a', value: 3, share: 0.75 }])).toBe('Page,Views,Share\r\n/a,3,75.0%\r\n');
  });
  it('turns country codes into flags', () => {
    expect(flag('de')).toBe('🇩🇪');
    expect(flag('unknown')).toBe('');
  });
});
