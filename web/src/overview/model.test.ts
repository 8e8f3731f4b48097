import { describe, expect, it } from 'vitest';
import {
  change, changeText, columnsOf, csvCell, customEvents, eventFilter, filterValueText, flag, PANELS, toCsv, visibleTabs, withFilter, withoutFilter,
} from './model';
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
  it('keeps the property the custom events panel breaks down', () => {
    const s = writeView('?project=p1', { filters: [{ dimension: 'EVENT_TYPE', op: 'IS', value: 'signup' }], compare: null, prop: 'plan' });
    expect(new URLSearchParams(s).get('prop')).toBe('plan');
    expect(readView(s).prop).toBe('plan');
    expect(readView('?prop=%20%20')).toEqual({ filters: [], compare: null });
    expect(new URLSearchParams(writeView(s, { filters: [], compare: null })).has('prop')).toBe(false);
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
  it('sends every filter as a dimension filter of EventFilter.where', () => {
    expect(eventFilter([])).toBeNull();
    expect(eventFilter([
      { dimension: 'PAGE', op: 'IS', value: '/p' },
      { dimension: 'COUNTRY', op: 'IS_NOT', value: 'DE' },
      { dimension: 'PROPERTY', property: 'plan', op: 'CONTAINS', value: 'pro' },
    ])).toEqual({ where: [
      { dimension: 'PAGE', op: 'IS', values: ['/p'] },
      { dimension: 'COUNTRY', op: 'IS_NOT', values: ['DE'] },
      { dimension: 'PROPERTY', property: 'plan', op: 'CONTAINS', values: ['pro'] },
    ] });
  });
  it('leaves out filters the API would refuse as a whole (hand-edited links)', () => {
    expect(eventFilter([{ dimension: 'NOPE', op: 'IS', value: 'x' }])).toBeNull();
    expect(eventFilter([{ dimension: 'PROPERTY', op: 'IS', value: 'x' }, { dimension: 'PAGE', property: 'p', op: 'IS', value: '/' }])).toBeNull();
    expect(eventFilter([{ dimension: 'NOPE', op: 'IS', value: 'x' }, { dimension: 'SOURCE', op: 'IS', value: 'Google' }]))
      .toEqual({ where: [{ dimension: 'SOURCE', op: 'IS', values: ['Google'] }] });
  });
  it('shows a tab a server may refuse only once it answered', () => {
    const pages = PANELS.find((p) => p.id === 'pages')!.tabs;
    expect(visibleTabs(pages, {}).map((t) => t.dimension)).toEqual(['PAGE']);
    expect(visibleTabs(pages, { ENTRY_PAGE: true, EXIT_PAGE: false }).map((t) => t.dimension)).toEqual(['PAGE', 'ENTRY_PAGE']);
    expect(visibleTabs(PANELS.find((p) => p.id === 'goals')!.tabs, { GOAL: false })).toEqual([]);
    const devices = PANELS.find((p) => p.id === 'devices')!.tabs;
    expect(visibleTabs(devices, {})).toEqual(devices);
  });
  it('lists custom events without page views, up to the limit', () => {
    const r = (key: string, visitors: number) => ({ key, visitors, events: visitors, share: 0 });
    expect(customEvents([r('page.view', 9), r('signup', 3), r('download', 2)], 1)).toEqual([r('signup', 3)]);
    expect(customEvents([r('signup', 3), r('download', 2)], 5)).toEqual([r('signup', 3), r('download', 2)]);
  });
  it('names countries in chips', () => {
    expect(filterValueText({ dimension: 'COUNTRY', op: 'IS', value: 'DE' })).toBe('🇩🇪 Germany');
    expect(filterValueText({ dimension: 'SOURCE', op: 'IS', value: '' })).toBe('(none)');
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
    expect(toCsv('Page', 'PAGE', [{ key: '/a', visitors: 3, events: 7, share: 0.75 }])).toBe('Page,Visitors,Share\r\n/a,3,75.0%\r\n');
    expect(columnsOf('EVENT_TYPE')).toEqual(['Visitors', 'Events']);
    expect(toCsv('Event', 'EVENT_TYPE', [{ key: '=x', visitors: 2, events: 5, share: 0.5 }])).toBe("Event,Visitors,Events,Share\r\n'=x,2,5,50.0%\r\n");
  });
  it('turns country codes into flags', () => {
    expect(flag('de')).toBe('🇩🇪');
    expect(flag('unknown')).toBe('');
  });
});
