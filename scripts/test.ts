// `npm test` after the type check: every test file under test/, on both backends (see test/harness.ts).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const files = readdirSync('test', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`).sort();
const only = process.argv.slice(2);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...(only.length ? only : files)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
