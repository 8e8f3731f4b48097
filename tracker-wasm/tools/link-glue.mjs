// Puts wasm-bindgen's glue inside the loader, so a page downloads one script and the wasm:
// `node link-glue.mjs GLUE_BG.js LOADER.js OUT.js`.
//
// GLUE_BG.js is wasm-bindgen's `--target bundler` module `*_bg.js`: the glue functions without
// any loading code (the `--target web` glue also carries ~1.3 KB of fetch/instantiate fallbacks
// and deprecation warnings the tracker never uses). Its `export function` declarations become
// plain functions in the loader's scope, and the ones the wasm imports are gathered into
// `__wbg_imports`, the import object the loader instantiates the wasm with. The loader marks
// the spot with the comment `/* wasm-bindgen glue */`.
//
// Invariant: all or nothing. Any other form of export or an import in the glue, a missing
// command export, or a marker not found exactly once exits non-zero and writes nothing.
import { readFileSync, writeFileSync } from 'node:fs';

const [gluePath, loaderPath, outPath] = process.argv.slice(2);
const fail = (msg) => { console.error(`link-glue: ${msg}`); process.exit(1); };
if (!gluePath || !loaderPath || !outPath) fail('usage: link-glue.mjs GLUE_BG.js LOADER.js OUT.js');

// The module the wasm imports from (its import section names it so).
const MODULE = './tracker_wasm_bg.js';
// What the loader calls: the wasm's exports (browser.rs) and the glue's setter.
const USED = ['call', 'click', 'init', '__wbg_set_wasm'];
const MARKER = '/* wasm-bindgen glue */';

const glue = readFileSync(gluePath, 'utf8');
const loader = readFileSync(loaderPath, 'utf8');
if (/^\s*import\b/m.test(glue)) fail('the glue imports a module: not handled');
const exported = [...glue.matchAll(/^export function (\w+)\(/gm)].map((m) => m[1]);
const body = glue.replace(/^export function /gm, 'function ');
if (/^\s*export\b/m.test(body)) fail('the glue exports other than `export function`: not handled');
for (const name of USED) if (!exported.includes(name)) fail(`the glue does not export ${name}`);
const imports = exported.filter((n) => !USED.includes(n));
if (!imports.every((n) => /^__wb(g|indgen)_/.test(n))) fail(`unexpected exports: ${imports.join(', ')}`);
if (loader.split(MARKER).length !== 2) fail(`the loader has the marker ${MARKER} other than once`);

const linked = `${body}\nvar __wbg_imports = { ${JSON.stringify(MODULE)}: { ${imports.map((n) => `${n}: ${n}`).join(', ')} } };\n`;
writeFileSync(outPath, loader.replace(MARKER, () => linked));
console.error(`link-glue: ${imports.length} imports, ${USED.length} exports linked`);
