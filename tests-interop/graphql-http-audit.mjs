// Runs the GraphQL over HTTP spec's own audit suite (`serverAudits` of the graphql-http package)
// against a running server's /graphql.
//
//   SIGHTLINE_URL=http://127.0.0.1:8080 node graphql-http-audit.mjs
//
// Prints one line per audit (status, id, name, and the reason of a failure), then a summary
// line. Exits 1 when any audit is not `ok`: a failed MUST (error), a failed SHOULD (warn) and a
// failed MAY (notice) all fail the run. Exits 2 on a fatal problem (server unreachable).
import { serverAudits } from 'graphql-http';

const base = process.env.SIGHTLINE_URL;
if (!base) {
  console.error('SIGHTLINE_URL is not set (the server, e.g. http://127.0.0.1:8080)');
  process.exit(2);
}
const url = base.replace(/\/+$/, '') + '/graphql';

// Each audit with its own timeout, so a hanging request fails the run instead of blocking it.
const fetchFn = (input, init = {}) =>
  fetch(input, { ...init, signal: AbortSignal.timeout(10_000) });

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
const failed = [];
for (const { fn } of serverAudits({ url, fetchFn })) {
  let result;
  try {
    result = await fn();
  } catch (err) {
    console.error(`fatal: ${err?.stack ?? err}`);
    process.exit(2);
  }
  counts[result.status] += 1;
  let line = `${result.status.padEnd(6)} ${result.id} ${result.name}`;
  if (result.status !== 'ok') {
    const res = result.response;
    let body = '';
    try {
      body = (await res.text()).slice(0, 300);
    } catch {
      // body already read by the audit
    }
    const type = res.headers.get('content-type') ?? '-';
    line += `\n       ${result.reason}: got ${res.status}, content-type ${type}${body ? `, body ${body}` : ''}`;
    failed.push(result);
  }
  console.log(line);
}
const total = Object.values(counts).reduce((a, b) => a + b, 0);
console.log(
  `graphql-http audits: ${total} run, ${counts.ok} ok, ${counts.notice} notice, ${counts.warn} warn, ${counts.error} error`,
);
process.exit(failed.length === 0 ? 0 : 1);
