#!/usr/bin/env node
// One-line figure from a jscpd JSON report, for `make dup`.
//   node summary.js REPORT ROOT [MAX]
// REPORT: jscpd-report.json written with --absolute; ROOT: the scanned checkout.
// Writes pairs.txt next to REPORT: every clone pair, `fileA:startA-endA <-> fileB:startB-endB (N lines)`,
// paths relative to ROOT, sorted by file. Exits 1 only when MAX is given and the pair count exceeds it.
"use strict";

const fs = require("fs");
const path = require("path");

const [reportPath, root, max] = process.argv.slice(2);
if (!reportPath || !root) {
  console.error("usage: node summary.js REPORT ROOT [MAX]");
  process.exit(2);
}

const report = JSON.parse(fs.readFileSync(reportPath, "utf8"));
const total = (report.statistics && report.statistics.total) || {};
const rel = (name) => path.relative(root, path.resolve(root, name)).split(path.sep).join("/");
const area = (file) => file.split("/")[0];

const counts = { shared: 0, functions: 0, mixed: 0 };
const pairs = (report.duplicates || []).map((d) => {
  let a = { file: rel(d.firstFile.name), start: d.firstFile.start, end: d.firstFile.end };
  let b = { file: rel(d.secondFile.name), start: d.secondFile.start, end: d.secondFile.end };
  if (b.file < a.file || (b.file === a.file && b.start < a.start)) [a, b] = [b, a];
  const where = area(a.file) === area(b.file) && area(a.file) in counts ? area(a.file) : "mixed";
  counts[where] += 1;
  return { a, b, lines: d.lines };
});
pairs.sort((x, y) =>
  x.a.file.localeCompare(y.a.file) || x.a.start - y.a.start ||
  x.b.file.localeCompare(y.b.file) || x.b.start - y.b.start);

const end = (f) => `${f.file}:${f.start}-${f.end}`;
fs.writeFileSync(
  path.join(path.dirname(reportPath), "pairs.txt"),
  pairs.map((p) => `${end(p.a)} <-> ${end(p.b)} (${p.lines} lines)\n`).join(""));

const duplicated = total.duplicatedLines || 0;
const lines = total.lines || 0;
const percent = lines ? (100 * duplicated) / lines : 0;
console.log(
  `dup: ${pairs.length} clone pairs (shared: ${counts.shared}, functions: ${counts.functions}, ` +
  `mixed: ${counts.mixed}), ${duplicated} duplicated lines of ${lines} (${percent.toFixed(2)}%)`);

if (max !== undefined && max !== "" && !/^\d+$/.test(max)) {
  console.error(`dup: DUP_MAX must be a whole number, not "${max}"`);
  process.exit(2);
}
if (max !== undefined && max !== "" && pairs.length > Number(max)) {
  console.error(`dup: ${pairs.length} clone pairs is more than DUP_MAX=${max}`);
  process.exit(1);
}
