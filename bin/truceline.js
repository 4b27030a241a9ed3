#!/usr/bin/env node
'use strict';
// `npx truceline …`: the CLI is compiled by `npm run build` (swc rewrites the path aliases).
const path = require('node:path');

const entry = path.join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
try {
  require.resolve(entry);
} catch {
  console.error('truceline: the CLI is not built yet; run `npm run build` first.');
  process.exit(2);
}
require(entry);
