// Fails when src/generated/graphql.ts differs from what `npm run codegen` would write now (the
// schema or an operation changed without regenerating), or when an operation does not validate
// against docs/schema.graphql. Run by `npm test`.
import { generate, loadContext } from '@graphql-codegen/cli';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const target = 'src/generated/graphql.ts';
const context = await loadContext(join(root, 'codegen.yml'));
context.updateConfig({ silent: true });
const outputs = await generate(context, false);
const fresh = outputs.find((o) => o.filename.endsWith(target));
if (!fresh) throw new Error(`codegen produced no ${target}`);
const committed = readFileSync(target, 'utf8');
if (fresh.content !== committed) {
  console.error(`${target} is stale: run \`npm run codegen\` in web/ and commit the result.`);
  process.exit(1);
}
console.log(`${target} is up to date with docs/schema.graphql`);
