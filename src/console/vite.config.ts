/**
 * Build of the web console: src/console → dist/console (shipped in the package and
 * served by fleetprobe itself). Preact's JSX through esbuild (no Babel plugin needed);
 * hashed file names under assets/ so they can be cached forever; relative URLs, so the
 * console also works behind a reverse proxy under a path prefix.
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // The polyfill would be an inline script; every browser fleetprobe targets has modulepreload.
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
});
