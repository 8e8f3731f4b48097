// Renames the wasm module's imports, and wasm-bindgen's own exports, to short names, in the
// .wasm and in the JS holding the wasm-bindgen glue alike: `node shorten-imports.mjs GLUE.js
// MODULE.wasm` (both rewritten in place).
//
// Why: wasm-bindgen names each import `__wbg_<name>_<16 hex digits>` under the module
// `./tracker_wasm_bg.js`, and every name is written twice (the wasm's import section and the
// glue's import object); the hex digits do not compress. Short names saved ~0.8 KB gzipped.
// Its exports `__wbindgen_malloc`, `__wbindgen_realloc` and `__wbindgen_free` are named once
// in the wasm and a dozen times in the glue. Only names: types, order and code are untouched.
//
// Invariant: the rewrite is all or nothing. Every import of the module must be found as a key
// in the glue exactly once, and every renamed export at least once, else the script exits
// non-zero and writes nothing.
import { readFileSync, writeFileSync } from 'node:fs';

const [gluePath, wasmPath] = process.argv.slice(2);
const MODULE = './tracker_wasm_bg.js';
const SHORT_MODULE = 'w';
const fail = (msg) => { console.error(`shorten-imports: ${msg}`); process.exit(1); };
if (!gluePath || !wasmPath) fail('usage: shorten-imports.mjs GLUE.js MODULE.wasm');

const wasm = readFileSync(wasmPath);
let glue = readFileSync(gluePath, 'utf8');

// Unsigned LEB128, as the wasm binary format writes sizes and counts.
function readU32(buf, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    result |= (b & 0x7f) << shift;
    if (!(b & 0x80)) return [result >>> 0, pos];
    shift += 7;
  }
}
function u32(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}
const name = (s) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
const shortName = (i) => {
  // a..z, then a0..z0, a1..: valid JS identifiers, so the glue's keys stay unquoted.
  const letter = String.fromCharCode(97 + (i % 26));
  return i < 26 ? letter : letter + String(Math.floor(i / 26) - 1);
};

if (wasm.readUInt32LE(0) !== 0x6d736100) fail(`${wasmPath} is not a wasm module`);
const parts = [wasm.subarray(0, 8)];
let pos = 8;
let renamed = 0;
while (pos < wasm.length) {
  const id = wasm[pos];
  const [size, body] = readU32(wasm, pos + 1);
  const end = body + size;
  if (id === 7) {
    // The export section: (name, kind, index) for each export.
    let p = body;
    const [count, afterCount] = readU32(wasm, p);
    p = afterCount;
    const out = [u32(count)];
    let n = 0;
    for (let i = 0; i < count; i++) {
      const [len, at] = readU32(wasm, p);
      const field = wasm.toString('utf8', at, at + len);
      const kind = wasm[at + len];
      const descEnd = readU32(wasm, at + len + 1)[1];
      let short = field;
      if (kind === 0 && field.startsWith('__wbindgen_')) {
        short = `_${n++}`;
        const ref = new RegExp(`\\b${field}\\b`, 'g');
        if (!glue.match(ref)) fail(`export ${field} is not named in the glue`);
        glue = glue.replace(ref, short);
      }
      out.push(name(short), wasm.subarray(at + len, descEnd));
      p = descEnd;
    }
    if (p !== end) fail('export section did not parse to its end');
    const section = Buffer.concat(out);
    parts.push(Buffer.from([7]), u32(section.length), section);
    pos = end;
    continue;
  }
  if (id !== 2) {
    parts.push(wasm.subarray(pos, end));
    pos = end;
    continue;
  }
  // The import section: (module name, field name, kind, description) for each import.
  let p = body;
  const [count, afterCount] = readU32(wasm, p);
  p = afterCount;
  const out = [u32(count)];
  for (let i = 0; i < count; i++) {
    const [modLen, modAt] = readU32(wasm, p);
    const mod = wasm.toString('utf8', modAt, modAt + modLen);
    const [fieldLen, fieldAt] = readU32(wasm, modAt + modLen);
    const field = wasm.toString('utf8', fieldAt, fieldAt + fieldLen);
    const descStart = fieldAt + fieldLen;
    const kind = wasm[descStart];
    let descEnd;
    if (kind === 0) {
      descEnd = readU32(wasm, descStart + 1)[1]; // function: type index
    } else {
      fail(`import ${mod}.${field} is not a function (kind ${kind}): not handled`);
    }
    if (mod === MODULE) {
      const short = shortName(renamed++);
      const key = new RegExp(`([{,])${field}:`, 'g');
      const hits = glue.match(key)?.length ?? 0;
      if (hits !== 1) fail(`import ${field} is a key of the glue ${hits} times, expected once`);
      glue = glue.replace(key, `$1${short}:`);
      out.push(name(SHORT_MODULE), name(short));
    } else {
      out.push(name(mod), name(field));
    }
    out.push(wasm.subarray(descStart, descEnd));
    p = descEnd;
  }
  if (p !== end) fail('import section did not parse to its end');
  const section = Buffer.concat(out);
  parts.push(Buffer.from([2]), u32(section.length), section);
  pos = end;
}
const moduleKey = `"${MODULE}":`;
if (glue.split(moduleKey).length !== 2) fail(`the glue names ${MODULE} other than once as a key`);
glue = glue.replace(moduleKey, `${SHORT_MODULE}:`);
writeFileSync(wasmPath, Buffer.concat(parts));
writeFileSync(gluePath, glue);
console.error(`shorten-imports: ${renamed} imports renamed`);
