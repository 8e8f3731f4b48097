// The GraphQL console: posts the query to /graphql and shows the JSON answer. Served from the
// server's own files (no CDN), under the dashboard's Content-Security-Policy.
const $ = (id) => document.getElementById(id);

async function run() {
  let variables = {};
  try {
    variables = JSON.parse($('variables').value || '{}');
  } catch (e) {
    $('result').textContent = `Variables are not JSON: ${e.message}`;
    return;
  }
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  const token = $('token').value.trim();
  if (token) headers.authorization = `Bearer ${token}`;
  const resp = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query: $('query').value, variables }) });
  const text = await resp.text();
  try {
    $('result').textContent = `${resp.status}\n${JSON.stringify(JSON.parse(text), null, 2)}`;
  } catch {
    $('result').textContent = `${resp.status}\n${text}`;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('run').addEventListener('click', () => { run().catch((e) => { $('result').textContent = String(e); }); });
});
