// The dashboard (web/, built by Vite into web/dist): hashed assets are cached for a year as
// immutable, index.html is revalidated on every load (no-cache + ETag), and any other GET that is
// not an API path gets index.html so client routes (/orgs/…, /wall/…) survive a reload.
// Assets are served precompressed (.br / .gz written by the build) when the browser accepts it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../context.ts';
import { AppError } from '../../domain/errors.ts';

export const DIST_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json', '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.js', '.css', '.html', '.svg', '.json', '.webmanifest', '.txt']);

// What index.html may do: scripts, styles and data only from this origin (charts draw on canvas).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Loyalty Button</title>
<body style="font:16px system-ui;max-width:40em;margin:3em auto;padding:0 1em">
<h1>The dashboard is not built yet</h1>
<p>Run <code>npm run build:web</code> (or just <code>npm start</code>, which builds it when needed) and reload.
The API works meanwhile: see <a href="/docs">/docs</a>.</p>`;

type Cached = { mtimeMs: number; body: Buffer; etag: string };
const cache = new Map<string, Cached>();

function load(file: string): Cached | null {
  let st;
  try { st = statSync(file); } catch { return null; }
  if (!st.isFile()) return null;
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs) return hit;
  const body = readFileSync(file);
  const c = { mtimeMs: st.mtimeMs, body, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"` };
  cache.set(file, c);
  return c;
}

function negotiate(req: FastifyRequest, file: string): { file: string; encoding: string | null } {
  const accept = String(req.headers['accept-encoding'] ?? '');
  if (COMPRESSIBLE.has(extname(file))) {
    if (/\bbr\b/.test(accept) && existsSync(`${file}.br`)) return { file: `${file}.br`, encoding: 'br' };
    if (/\bgzip\b/.test(accept) && existsSync(`${file}.gz`)) return { file: `${file}.gz`, encoding: 'gzip' };
  }
  return { file, encoding: null };
}

function send(req: FastifyRequest, reply: FastifyReply, file: string, cacheControl: string, extra: Record<string, string> = {}): FastifyReply | null {
  const chosen = negotiate(req, file);
  let c = load(chosen.file);
  let encoding = chosen.encoding;
  if (!c && encoding) { c = load(file); encoding = null; }
  if (!c) return null;
  void reply.type(TYPES[extname(file)] ?? 'application/octet-stream').header('cache-control', cacheControl).header('vary', 'accept-encoding')
    .header('etag', c.etag).header('x-content-type-options', 'nosniff');
  for (const [k, v] of Object.entries(extra)) void reply.header(k, v);
  if (encoding) void reply.header('content-encoding', encoding);
  if (req.headers['if-none-match'] === c.etag) return reply.status(304).send();
  return reply.send(c.body);
}

const isApiPath = (path: string): boolean => /^\/(api|docs|health)(\/|$)/.test(path);

export function spaRoutes(app: App, distDir = DIST_DIR): void {
  const indexFile = join(distDir, 'index.html');
  const index = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const sent = send(req, reply, indexFile, 'no-cache', { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' });
    return sent ?? reply.status(503).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(NOT_BUILT);
  };

  app.get('/', { schema: { hide: true } }, async (req, reply) => index(req, reply));

  // Content-hashed names: a changed file gets a new name, so these never need revalidating.
  app.get('/assets/:file', { schema: { hide: true } }, async (req, reply) => {
    const name = (req.params as { file: string }).file;
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) throw new AppError('not_found', 'no such asset');
    const sent = send(req, reply, join(distDir, 'assets', name), 'public, max-age=31536000, immutable');
    if (!sent) throw new AppError('not_found', `no asset ${name}`);
    return sent;
  });

  // Client routes: the app decides what a path shows. API-looking paths and file names keep the JSON 404.
  app.get('/*', { schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const last = path.slice(path.lastIndexOf('/') + 1);
    if (isApiPath(path) || last.includes('.')) throw new AppError('not_found', `no route GET ${path}`);
    return index(req, reply);
  });
}
