// A real graphql-ws client (graphql-transport-ws protocol) for the subscription tests.
// Usage: node live.mjs <ws-url> <token|-> <query> <variables-json> <count> <timeout-ms>
// Prints `READY` once the connection is acknowledged, then one JSON line per message (`next`
// payloads, or {"error": ...}), and exits after <count> messages, an error, or the timeout.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, query, variables, count, timeoutMs] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  retryAttempts: 0,
  connectionParams: token === '-' ? {} : { Authorization: `Bearer ${token}` },
  on: { connected: () => console.log('READY') },
});
let seen = 0;
const done = (code) => { client.dispose(); setTimeout(() => process.exit(code), 50); };
setTimeout(() => { console.log(JSON.stringify({ timeout: true })); done(0); }, Number(timeoutMs));
client.subscribe(
  { query, variables: JSON.parse(variables) },
  {
    next: (msg) => {
      console.log(JSON.stringify(msg));
      if (++seen >= Number(count)) done(0);
    },
    error: (err) => {
      const e = Array.isArray(err) ? err : (err && err.message !== undefined ? [err] : [{ message: String(err?.reason ?? err) , code: err?.code }]);
      console.log(JSON.stringify({ error: e }));
      done(0);
    },
    complete: () => done(0),
  },
);
