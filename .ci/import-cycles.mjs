// Fails when modules of src/ import each other in a cycle (style.md: no cycles between modules), or
// when a folder imports one it must not (FORBIDDEN: the HTTP API does not borrow the CLI's code).
// A small script rather than a tool: the imports here are plain relative `.js` specifiers, so a
// regex over the sources finds them all, and CI needs nothing more installed. Type-only imports
// (`import type`) are erased at run time and cannot cycle, so they are left out.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'src');
const IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** [importer folder, imported folder] pairs, relative to the root. */
const FORBIDDEN = [['http', 'cli']];

const graph = new Map();
for (const file of files(root)) {
  const text = readFileSync(file, 'utf8');
  const deps = [...text.matchAll(IMPORT)].map((m) => resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
  graph.set(
    file,
    deps.filter((d) => d !== file),
  );
}

// Depth-first search; a grey node met again closes a cycle.
const state = new Map();
const cycles = [];
function visit(node, path) {
  state.set(node, 'grey');
  for (const dep of graph.get(node) ?? []) {
    if (state.get(dep) === 'grey') cycles.push([...path.slice(path.indexOf(dep)), dep]);
    else if (!state.has(dep) && graph.has(dep)) visit(dep, [...path, dep]);
  }
  state.set(node, 'black');
}
for (const node of graph.keys()) if (!state.has(node)) visit(node, [node]);

const under = (file, folder) => relative(root, file).startsWith(`${folder}/`);
const banned = [...graph].flatMap(([file, deps]) =>
  deps.filter((d) => FORBIDDEN.some(([from, to]) => under(file, from) && under(d, to))).map((d) => [file, d]),
);
for (const [file, dep] of banned)
  console.error(`forbidden import: ${relative(root, file)} -> ${relative(root, dep)}`);
for (const c of cycles) console.error(`import cycle: ${c.map((f) => relative(root, f)).join(' -> ')}`);
if (cycles.length > 0 || banned.length > 0) process.exit(1);
console.log(`no import cycles among ${graph.size} modules of ${relative(process.cwd(), root) || '.'}`);
