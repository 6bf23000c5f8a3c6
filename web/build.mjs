// Builds web/src into web/dist, which the Go binary embeds (web/web.go):
//   dist/static/player-[hash].js (+ chunks/, the CSS)   the player page
//   dist/static/console-[hash].js (+ its CSS)          the seller's console (Preact)
//   dist/static/chunks/hls.light-[hash].js             hls.js, loaded only for LL-HLS
//   dist/embed.js                                      the sellers' widget (one IIFE)
//   dist/manifest.json                                 entry -> hashed file
// and prints the gzip size of each. `node build.mjs --size` fails when the
// page without hls.js exceeds the 100 KB budget.
import * as esbuild from 'esbuild';
import { gzipSync } from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';

const out = 'dist';
const budget = 100 * 1024;
const consoleBudget = 60 * 1024;
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, '.gitkeep'), '');

const common = {
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  target: ['es2020', 'chrome91', 'firefox90', 'safari15'],
  metafile: true,
  logLevel: 'warning',
};

const player = await esbuild.build({
  ...common,
  entryPoints: { player: 'src/player/main.js' },
  outdir: path.join(out, 'static'),
  format: 'esm',
  splitting: true,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunks/[name]-[hash]',
});

const consoleBuild = await esbuild.build({
  ...common,
  entryPoints: { console: 'src/console/main.jsx' },
  outdir: path.join(out, 'static'),
  format: 'esm',
  splitting: true,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunks/console-[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
});

const embedCSS = await esbuild.transform(fs.readFileSync('src/embed/embed.css', 'utf8'), { loader: 'css', minify: true });
await esbuild.build({
  ...common,
  entryPoints: ['src/embed/embed.js'],
  outfile: path.join(out, 'embed.js'),
  format: 'iife',
  define: { __EMBED_CSS__: JSON.stringify(embedCSS.code.trim()) },
});

const rel = (p) => path.relative(out, p).split(path.sep).join('/');
const manifest = {};
const outputs = player.metafile.outputs;
for (const [file, o] of Object.entries(outputs)) {
  if (o.entryPoint === 'src/player/main.js') {
    manifest['player.js'] = rel(file);
    if (o.cssBundle) manifest['player.css'] = rel(o.cssBundle);
  }
  if (Object.keys(o.inputs).some((i) => i.includes('node_modules/hls.js/'))) manifest['hls.js'] = rel(file);
}
for (const [file, o] of Object.entries(consoleBuild.metafile.outputs)) {
  if (o.entryPoint === 'src/console/main.jsx') {
    manifest['console.js'] = rel(file);
    if (o.cssBundle) manifest['console.css'] = rel(o.cssBundle);
  }
}
manifest['embed.js'] = 'embed.js';
if (!manifest['player.js'] || !manifest['player.css'] || !manifest['hls.js'] || !manifest['console.js'] || !manifest['console.css']) {
  throw new Error('build: missing outputs in ' + JSON.stringify(manifest));
}
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

// Sizes: everything the page loads before it needs hls.js, then hls.js.
const gz = (f) => gzipSync(fs.readFileSync(path.join(out, f)), { level: 9 }).length;
const pageFiles = Object.keys(outputs).filter((f) => !f.endsWith('.map')).map(rel).filter((f) => f !== manifest['hls.js']);
let page = 0;
const rows = [];
for (const f of pageFiles) {
  const n = gz(f);
  page += n;
  rows.push([f, fs.statSync(path.join(out, f)).size, n]);
}
rows.push(['embed.js', fs.statSync(path.join(out, 'embed.js')).size, gz('embed.js')]);
rows.push([manifest['hls.js'] + ' (LL-HLS only)', fs.statSync(path.join(out, manifest['hls.js'])).size, gz(manifest['hls.js'])]);
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
for (const [f, raw, z] of rows) console.log(`${f.padEnd(52)} ${kb(raw).padStart(9)} raw ${kb(z).padStart(9)} gzip`);
console.log(`player page JS+CSS without hls.js: ${kb(page)} gzip (budget ${kb(budget)})`);
// The console's weight: its entry, its CSS and the chunks the entry
// imports statically (the browser loads them at once); the event page
// (charts) and the replay player (hls.js) load on demand.
const couts = consoleBuild.metafile.outputs;
const entryFile = Object.keys(couts).find((f) => couts[f].entryPoint === 'src/console/main.jsx');
const initial = new Set();
const walk = (f) => {
  if (initial.has(f)) return;
  initial.add(f);
  for (const im of couts[f].imports || []) if (im.kind === 'import-statement' && couts[im.path]) walk(im.path);
};
walk(entryFile);
let consoleSize = gz(manifest['console.css']);
console.log(`${manifest['console.css'].padEnd(52)} ${kb(fs.statSync(path.join(out, manifest['console.css'])).size).padStart(9)} raw ${kb(consoleSize).padStart(9)} gzip`);
for (const f of Object.keys(couts).filter((f) => f.endsWith('.js'))) {
  const r = rel(f);
  const n = gz(r);
  if (initial.has(f)) consoleSize += n;
  console.log(`${(r + (initial.has(f) ? '' : ' (on demand)')).padEnd(52)} ${kb(fs.statSync(path.join(out, r)).size).padStart(9)} raw ${kb(n).padStart(9)} gzip`);
}
console.log(`console JS+CSS loaded at first: ${kb(consoleSize)} gzip (budget ${kb(consoleBudget)})`);
if (process.argv.includes('--size') && (page > budget || consoleSize > consoleBudget)) {
  console.error('over budget');
  process.exit(1);
}
