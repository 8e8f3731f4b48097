// The GraphQL client: queries and mutations over fetch, subscriptions over graphql-ws. Every
// error carries the server's `extensions.code`; UNAUTHENTICATED signs the user out.
//
// The session's token is in an HttpOnly cookie the server set at login (no script can read
// it): requests send it by themselves, with the X-Sightline-CSRF header that makes the server
// count it. What is kept in localStorage only says who is signed in and until when.
//
// A shared link's page (`#/share/<token>`) sends the link's token instead, in the
// X-Sightline-Share header, and no cookie at all (`credentials: 'omit'`): it reads as the link's
// read-only viewer whoever else is signed in in this browser.

import { createClient, type Client } from 'graphql-ws';

export class ApiError extends Error {
  constructor(public code: string, message: string) {
    super(message);
  }
}

export interface Session { expiresAt: string; role: string; email: string }

const KEY = 'sightline.session';

export function loadSession(storage: Pick<Storage, 'getItem'> = localStorage, now = Date.now()): Session | null {
  try {
    const s = JSON.parse(storage.getItem(KEY) ?? 'null') as (Session & { token?: unknown }) | null;
    // A session saved before cookies (with its token) is dropped: sign in again.
    if (!s || typeof s.email !== 'string' || typeof s.expiresAt !== 'string' || 'token' in s) return null;
    if (Date.parse(s.expiresAt) <= now) return null;
    return s;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null, storage: Pick<Storage, 'setItem' | 'removeItem'> = localStorage): void {
  if (s) storage.setItem(KEY, JSON.stringify(s));
  else storage.removeItem(KEY);
}

let shareToken: string | null = null;

/// Makes every later request a shared link's (null: the signed-in session's again).
export function useShareToken(token: string | null): void {
  shareToken = token;
}

/// The request headers and credentials of a GraphQL POST: the shared link's token when one is
/// in use, else the CSRF header that makes the session cookie count.
export function requestAuth(share: string | null): { headers: Record<string, string>; credentials: RequestCredentials } {
  return share
    ? { headers: { 'content-type': 'application/json', 'x-sightline-share': share }, credentials: 'omit' }
    : { headers: { 'content-type': 'application/json', 'x-sightline-csrf': '1' }, credentials: 'same-origin' };
}

let onSignedOut: () => void = () => {};
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

/// Turns a GraphQL response (or transport failure) into data or an ApiError.
export function unwrap<T>(status: number, body: unknown): T {
  const b = body as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] } | null;
  if (b && Array.isArray(b.errors) && b.errors.length > 0) {
    const e = b.errors[0];
    throw new ApiError(e.extensions?.code ?? 'INTERNAL', e.message);
  }
  if (status >= 400 || !b || b.data === undefined || b.data === null) {
    throw new ApiError('INTERNAL', `the server answered ${status}`);
  }
  return b.data;
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const share = shareToken;
  // A shared link's refusal says nothing of the session: it is not signed out.
  const session = share ? null : loadSession();
  let resp: Response;
  try {
    resp = await fetch('/graphql', {
      method: 'POST',
      ...requestAuth(share),
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('NETWORK', 'The server cannot be reached. Check your connection and retry.');
  }
  let body: unknown = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  try {
    return unwrap<T>(resp.status, body);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED' && session) {
      saveSession(null);
      closeLive();
      onSignedOut();
    }
    throw e;
  }
}

let ws: Client | null = null;

/// The socket authenticates with the session cookie (the browser sends it on the handshake).
function wsClient(): Client {
  if (!ws) {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = createClient({ url: `${proto}//${location.host}/graphql/ws`, retryAttempts: 5 });
  }
  return ws;
}

/// Closes the live socket (on sign-out: the next one opens with the next session's cookie).
export function closeLive(): void {
  ws?.dispose();
  ws = null;
}

/// Subscribes; returns the function that stops it.
export function subscribe<T>(query: string, variables: Record<string, unknown>, next: (data: T) => void, fail: (e: ApiError) => void): () => void {
  return wsClient().subscribe<T>(
    { query, variables },
    {
      next: (msg) => {
        if (msg.errors && msg.errors.length) {
          const e = msg.errors[0] as { message: string; extensions?: { code?: string } };
          fail(new ApiError(e.extensions?.code ?? 'INTERNAL', e.message));
        } else if (msg.data) {
          next(msg.data as T);
        }
      },
      error: (err) => {
        const first = Array.isArray(err) ? (err[0] as { message: string; extensions?: { code?: string } }) : null;
        fail(new ApiError(first?.extensions?.code ?? 'NETWORK', first?.message ?? 'The live connection was lost.'));
      },
      complete: () => {},
    },
  );
}
