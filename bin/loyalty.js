#!/usr/bin/env node
// The `loyalty` command. The project needs Node >= 24.19 (node:sqlite, crypto.argon2, type
// stripping); when an older system node runs this file, re-run it on the pinned Node from
// node_modules so `npx loyalty …` works wherever `npm install` ran.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
if (major > 24 || (major === 24 && minor >= 19)) {
  await import(cli);
} else {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    console.error(`loyalty needs Node.js >= 24.19 (this is ${process.versions.node}); run npm install first`);
    process.exit(1);
  }
  const r = spawnSync(pinned, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
