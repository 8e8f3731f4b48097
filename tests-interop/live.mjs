// A real graphql-ws client (graphql-transport-ws protocol) for the subscription tests.
// Usage: node live.mjs <ws-url> <token|-> <query> <variables-json> <count> <timeout-ms> [pause-ms]
// Prints `READY` once the connection is acknowledged, then one JSON line per message (`next`
// payloads, or {"error": ...}), and exits after <count> messages (status 0), an error (status 2,
// after printing it; a `next` payload with `errors` counts as one) or the timeout (status 3, after printing {"timeout": true}): a caller that
// expects messages fails on anything but 0.
// With pause-ms, the client stops reading its socket for that long right after READY (a slow
// subscriber: the server's writes back up), then prints `RESUMED` and reads again. A negative
// pause-ms pauses until a line arrives on stdin (the test says when, not the clock).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, query, variables, count, timeoutMs, pauseMs] = process.argv.slice(2);
let socket = null;
class TrackedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    socket = this;
  }
}
const client = createClient({
  url,
  webSocketImpl: TrackedWebSocket,
  lazy: false,
  retryAttempts: 0,
  connectionParams: token === '-' ? {} : { Authorization: `Bearer ${token}` },
  on: {
    connected: () => {
      console.log('READY');
      const pause = Number(pauseMs ?? 0);
      if (pause !== 0 && socket) {
        socket.pause();
        const resume = () => { console.log('RESUMED'); socket.resume(); };
        if (pause > 0) setTimeout(resume, pause);
        else process.stdin.once('data', resume);
      }
    },
  },
});
let seen = 0;
const done = (code) => { client.dispose(); setTimeout(() => process.exit(code), 50); };
setTimeout(() => { console.log(JSON.stringify({ timeout: true })); done(3); }, Number(timeoutMs));
client.subscribe(
  { query, variables: JSON.parse(variables) },
  {
    next: (msg) => {
      console.log(JSON.stringify(msg));
      // A result carrying errors (FORBIDDEN, BAD_USER_INPUT...) is a failure too.
      if (msg.errors) done(2);
      else if (++seen >= Number(count)) done(0);
    },
    error: (err) => {
      const e = Array.isArray(err) ? err : (err && err.message !== undefined ? [err] : [{ message: String(err?.reason ?? err) , code: err?.code }]);
      console.log(JSON.stringify({ error: e }));
      done(2);
    },
    complete: () => done(0),
  },
);
