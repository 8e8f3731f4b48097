// User-level views (analyst and up): a user's timeline, raw events, the live feed.

import { gql, subscribe } from '../api';
import { compact, dateTime, esc, parseProps } from '../format';
import { failed, guarded, table } from '../ui';
import type { Ctx } from './ctx';
import type { LiveEventsSubscription, LiveStatsSubscription, RawEventsQuery, UserTimelineQuery } from '../generated/graphql';

interface Ev { id: string; type: string; occurredAt: string; path: string | null; userId: string | null; anonymousId: string | null; props: unknown }

const evRow = (e: Ev, tz: string) => [dateTime(e.occurredAt, tz), e.type, e.path ?? '', e.userId ?? e.anonymousId ?? '', JSON.stringify(e.props).slice(0, 120)];

export async function users(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>User timeline</h1><form id="f" class="panel"><label for="uid">User id</label> <input id="uid" required placeholder="user-42"> <button type="submit">Show</button></form><section id="out"></section>`;
  const out = el.querySelector<HTMLElement>('#out')!;
  el.querySelector('#f')!.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = el.querySelector<HTMLInputElement>('#uid')!.value.trim();
    void guarded(out, async () => {
      const d = await gql<UserTimelineQuery>(
        /* GraphQL */ `query UserTimeline($p: ID!, $id: String!) { user(projectId: $p, id: $id) { id email firstSeen lastSeen events timeline(first: 100) { id type occurredAt path userId anonymousId props } } }`,
        { p: ctx.project, id });
      const u = d.user;
      if (!u) { out.innerHTML = `<p class="empty">No user ${esc(id)} in this project.</p>`; return; }
      out.innerHTML = `<dl class="inline panel"><dt>User</dt><dd>${esc(u.id)}</dd><dt>Email</dt><dd>${esc(u.email ?? '–')}</dd><dt>First seen</dt><dd>${esc(dateTime(u.firstSeen, ctx.range.timeZone))}</dd><dt>Last seen</dt><dd>${esc(dateTime(u.lastSeen, ctx.range.timeZone))}</dd><dt>Events</dt><dd>${compact(u.events)}</dd></dl>` +
        table('Latest events', ['Time', 'Type', 'Path', 'Who', 'Properties'], u.timeline.map((e) => evRow(e, ctx.range.timeZone)), 'timeline');
    });
  });
}

export async function events(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Raw events</h1><form id="f" class="panel"><label for="type">Event type</label> <input id="type" placeholder="any"> <label for="props">Properties</label> <input id="props" placeholder='plan=pro or {"plan": "pro"}'> <button type="submit">Filter</button> <span class="msg" role="status"></span></form><section id="out"></section><button type="button" id="more" hidden>Load more</button>`;
  const out = el.querySelector<HTMLElement>('#out')!;
  const more = el.querySelector<HTMLButtonElement>('#more')!;
  let rows: Ev[] = [];
  let after: string | null = null;
  const page = async (reset: boolean) => {
    if (reset) { rows = []; after = null; }
    const type = el.querySelector<HTMLInputElement>('#type')!.value.trim();
    const props = parseProps(el.querySelector<HTMLInputElement>('#props')!.value);
    const msg = el.querySelector<HTMLElement>('#f .msg')!;
    msg.textContent = typeof props === 'string' ? props : '';
    if (typeof props === 'string') return;
    const filter = type || props ? { ...(type ? { eventType: type } : {}), ...(props ? { props } : {}) } : null;
    const d = await gql<RawEventsQuery>(
      /* GraphQL */ `query RawEvents($p: ID!, $r: TimeRange!, $f: EventFilter, $a: String) { events(projectId: $p, range: $r, filter: $f, first: 50, after: $a) { edges { node { id type occurredAt path userId anonymousId props } } pageInfo { hasNextPage endCursor } } }`,
      { p: ctx.project, r: ctx.range, f: filter, a: after });
    rows = rows.concat(d.events.edges.map((e) => e.node));
    after = d.events.pageInfo.endCursor;
    more.hidden = !d.events.pageInfo.hasNextPage;
    out.innerHTML = table(`${rows.length} events, newest first`, ['Time', 'Type', 'Path', 'Who', 'Properties'], rows.map((e) => evRow(e, ctx.range.timeZone)), 'events');
  };
  el.querySelector('#f')!.addEventListener('submit', (ev) => { ev.preventDefault(); void guarded(out, () => page(true)); });
  more.addEventListener('click', () => void page(false).catch((e) => failed(out, e)));
  await guarded(out, () => page(true));
}

export async function live(el: HTMLElement, ctx: Ctx): Promise<void> {
  el.innerHTML = `<h1>Live feed</h1>
    <form id="lf" class="panel toolbar"><button type="button" id="pause" aria-pressed="false">Pause</button>
      <label for="lt">Only type</label> <input id="lt" placeholder="any, e.g. element.click">
      <label for="lp">Properties</label> <input id="lp" placeholder='plan=pro or {"plan": "pro"}'>
      <button type="submit">Apply</button>
      <span id="rate" data-testid="rate" role="status">– events/s</span> <span id="state" class="muted" role="status"></span></form>
    <ol id="feed" class="feed" data-testid="feed" aria-live="polite" aria-relevant="additions"></ol>`;
  const feed = el.querySelector<HTMLOListElement>('#feed')!;
  const rate = el.querySelector<HTMLElement>('#rate')!;
  const state = el.querySelector<HTMLElement>('#state')!;
  const pause = el.querySelector<HTMLButtonElement>('#pause')!;
  let paused = false;
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
  });
  // The server filters (liveEvents' filter), so a busy project sends only what is shown; a
  // new filter is a new subscription.
  let stopEvents = () => {};
  const follow = (filter: Record<string, unknown> | null) => {
    stopEvents();
    stopEvents = subscribe<LiveEventsSubscription>(
      /* GraphQL */ `subscription LiveEvents($p: ID!, $f: LiveFilter) { liveEvents(projectId: $p, filter: $f) { lagged event { id type occurredAt path userId anonymousId props } } }`,
      { p: ctx.project, f: filter },
      (d) => {
        const { event: e, lagged } = d.liveEvents;
        if (paused) return;
        const li = document.createElement('li');
        li.dataset.id = e.id;
        li.innerHTML = `<time>${esc(dateTime(e.occurredAt, ctx.range.timeZone))}</time> <strong>${esc(e.type)}</strong> ${esc(e.path ?? '')} <span class="muted">${esc(e.userId ?? e.anonymousId ?? '')}</span>${lagged ? ` <em>(${lagged} skipped: too slow)</em>` : ''}`;
        feed.prepend(li);
        while (feed.children.length > 200) feed.lastElementChild?.remove();
      },
      (err) => { state.textContent = `${err.code}: ${err.message}`; },
    );
    state.textContent = filter ? 'connected, filtered' : 'connected';
  };
  el.querySelector('#lf')!.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const type = el.querySelector<HTMLInputElement>('#lt')!.value.trim();
    const props = parseProps(el.querySelector<HTMLInputElement>('#lp')!.value);
    if (typeof props === 'string') { state.textContent = props; return; }
    follow(type || props ? { ...(type ? { eventTypes: [type] } : {}), ...(props ? { props } : {}) } : null);
  });
  follow(null);
  const stopStats = subscribe<LiveStatsSubscription>(
    /* GraphQL */ `subscription LiveStats($p: ID!) { liveStats(projectId: $p) { events } }`, { p: ctx.project },
    (d) => { rate.textContent = `${compact(d.liveStats.events)} events/s`; },
    (err) => { state.textContent = `${err.code}: ${err.message}`; },
  );
  ctx.cleanup = () => { stopEvents(); stopStats(); };
}
