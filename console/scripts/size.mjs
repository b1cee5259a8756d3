// The JavaScript of the first load, gzipped: the entry chunk of index.html and every chunk it
// imports statically (lazy screens are dynamic imports and load later). Fails above the budget
// of SPEC §9.6 (250 KB).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const BUDGET = 250 * 1024;
const dist = "dist";
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));

const initial = new Set();
const visit = (key) => {
  const chunk = manifest[key];
  if (!chunk || initial.has(chunk.file)) return;
  initial.add(chunk.file);
  for (const imported of chunk.imports ?? []) visit(imported);
};
visit("index.html");

let total = 0;
for (const file of initial) {
  const size = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
  total += size;
  console.log(`  ${file}: ${(size / 1024).toFixed(1)} KB gzipped`);
}
const lazy = Object.values(manifest).filter((c) => c.isDynamicEntry).length;
console.log(
  `first load: ${(total / 1024).toFixed(1)} KB of JavaScript gzipped (budget ${BUDGET / 1024} KB); ${lazy} lazy chunks`,
);
if (total > BUDGET) {
  console.error("the first load is over budget");
  process.exit(1);
}
