#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli.ts into dist/ by `npm run build`
// (run automatically by `npm ci`/`npm install` through the `prepare` script).
import { existsSync } from 'node:fs';
const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('fleetprobe: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
