// Builds the dashboard into web/dist. `--if-stale` (what `npm start` runs first) skips the build
// when web/dist was built from exactly the current sources: a hash of every input file is kept in
// web/dist/.build-stamp (content, not timestamps, so a fresh clone or a checkout is judged right).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const web = fileURLToPath(new URL('.', import.meta.url));
const repo = join(web, '..');
const stampFile = join(web, 'dist', '.build-stamp');

function inputs(): string[] {
  const walk = (d: string): string[] => readdirSync(d).sort().flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  const lock = join(repo, 'package-lock.json');
  return [join(web, 'index.html'), join(web, 'vite.config.ts'), ...walk(join(web, 'src')), ...(existsSync(lock) ? [lock] : [])];
}

/** A hash of the dashboard's sources and the locked dependency versions. */
export function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of inputs()) h.update(relative(repo, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

export function isStale(): boolean {
  if (!existsSync(join(web, 'dist', 'index.html')) || !existsSync(stampFile)) return true;
  return readFileSync(stampFile, 'utf8').trim() !== sourceHash();
}

/** Builds when stale (or always, with force); returns whether it built. */
export async function buildWeb(o: { force?: boolean; quiet?: boolean } = {}): Promise<boolean> {
  if (!o.force && !isStale()) return false;
  const hash = sourceHash();
  const started = Date.now();
  const { build } = await import('vite');
  await build({ configFile: join(web, 'vite.config.ts'), logLevel: o.quiet ? 'warn' : 'info' });
  writeFileSync(stampFile, hash + '\n');
  if (!o.quiet) console.error(`dashboard built into web/dist in ${Date.now() - started} ms`);
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ifStale = process.argv.includes('--if-stale');
  buildWeb({ force: !ifStale }).then((built) => {
    if (!built) console.error('dashboard is up to date (web/dist)');
  }, (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
