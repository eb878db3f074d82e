// `npm test` after the type check: every test file under test/, on both backends (see test/harness.ts).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { buildWeb } from '../web/build.ts';

const files = readdirSync('test', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`).sort();
const only = process.argv.slice(2);
const run = only.length ? only : files;
// The browser test files run in parallel and each serves web/dist: build it once here, so no
// file's build empties web/dist under another file's running server.
if (run.some((f) => f.includes('browser/'))) await buildWeb({ quiet: true });
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...run], { stdio: 'inherit' });
process.exit(r.status ?? 1);
