// Shared by the heatmap and journeys views: loading with stale answers dropped, an error box,
// and the pure helpers they are tested by.

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';

/// Loads `load()` whenever `deps` change; answers that arrive after newer ones are dropped.
/// While a new answer is on its way the last one stays shown, with `loading` set.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: ApiError | null; loading: boolean } {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({ data: null, error: null, loading: true });
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ data: s.data, error: null, loading: true }));
    load().then(
      (data) => { if (mine === seq.current) setState({ data, error: null, loading: false }); },
      (e: unknown) => {
        if (mine === seq.current) setState({ data: null, error: e instanceof ApiError ? e : new ApiError('INTERNAL', String(e)), loading: false });
      },
    );
  }, deps);
  return state;
}

export function Failure({ error }: { error: ApiError }) {
  return <div class="error" role="alert"><strong>{error.code}</strong>: {error.message}</div>;
}

/// The cell with the most clicks (the first such in the list); null without cells.
export function hottest<C extends { x: number; y: number; clicks: number }>(cells: C[]): C | null {
  let best: C | null = null;
  for (const c of cells) if (!best || c.clicks > best.clicks) best = c;
  return best;
}

export interface FlowNode { id: number; parent: number | null; step: number; path: string; visits: number; ends: number; otherVisits: number }
export interface Placed extends FlowNode { x: number; y: number; h: number }

/// Lays a journey's tree out in columns (one per step): each node's height is proportional to
/// its visits, nodes stacked in list order (children largest first) with a gap.
export function layoutFlow(nodes: FlowNode[], height: number, colWidth: number, gap = 8): Placed[] {
  const root = nodes.find((n) => n.parent === null);
  const scale = root && root.visits > 0 ? (height * 0.8) / root.visits : 1;
  const nextY = new Map<number, number>();
  return nodes.map((n) => {
    const y = nextY.get(n.step) ?? 0;
    const h = Math.max(4, n.visits * scale);
    nextY.set(n.step, y + h + gap);
    return { ...n, x: n.step * colWidth, y, h };
  });
}
