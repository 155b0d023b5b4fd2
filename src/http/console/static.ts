/**
 * The console's built files (dist/console, made by `npm run build` and shipped in the
 * package) served by @fastify/static: ETag and Last-Modified, HEAD, and the .br/.gz
 * files the build writes next to each asset chosen by Accept-Encoding. Hashed assets
 * are immutable for a year; index.html is revalidated on every load (no-cache), so an
 * upgrade shows at the next reload. Every answer carries a strict Content-Security-
 * Policy: scripts, styles and connections from this origin only (no CDN, no inline
 * script), nothing framed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/** dist/console, from dist/src/http/console/static.js. */
export const CONSOLE_DIST_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface StaticOptions {
  /** Directory of the built console (default CONSOLE_DIST_DIR). */
  dir?: string;
  /** Links shown when the console is not built. */
  links: string[];
}

export async function consoleStatic(app: FastifyInstance, opts: StaticOptions): Promise<void> {
  const dir = opts.dir ?? CONSOLE_DIST_DIR;
  if (!existsSync(`${dir}/index.html`)) {
    // A source checkout that was never built: say so, and keep the endpoints one click away.
    linksPage(app, { links: opts.links, note: '<p>The web console is not built: run <code>npm run build</code>.</p>' });
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // Routes for the files that exist, made at start: nothing else under / is shadowed.
    wildcard: false,
    index: ['index.html'],
    preCompressed: true,
    cacheControl: false,
    decorateReply: false,
    setHeaders(res, path) {
      res.setHeader('cache-control', /[\\/]assets[\\/]/.test(path) ? IMMUTABLE : 'no-cache');
      res.setHeader('content-security-policy', CONSOLE_CSP);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
    },
  });
}

/** A plain page at / listing the endpoints (responder mode, or a console not built). */
export function linksPage(app: FastifyInstance, opts: { links: readonly string[]; note?: string }): void {
  const { links, note = '' } = opts;
  app.get('/', { config: { otel: false } }, async (_req, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP).header('cache-control', 'no-cache').type('text/html; charset=utf-8');
    const items = links.map((l) => `<li><a href="${l}">${l}</a></li>`).join('');
    return `<!doctype html><html><head><title>fleetprobe</title></head><body><h1>fleetprobe</h1>${note}<ul>${items}</ul></body></html>`;
  });
}
