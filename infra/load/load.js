// make load (issue 14 item 6): HTTP load on the contact routes of a running make dev stack with
// the pinned autocannon. Seeds LOAD_SEED contacts, then for create (POST /contacts with an
// Idempotency-Key), get, list and search (GET /contacts?q=) at 1, 16 and 64 concurrent clients
// sends a bounded number of requests (at most LOAD_MAX_SECONDS each) and prints p50 / p99
// latency, throughput and errors as a table.
//
// usage: LOAD_API=http://127.0.0.1:3090 LOAD_TOKEN=... node infra/load/load.js
"use strict";
const autocannon = require("autocannon");
const crypto = require("node:crypto");

const API = process.env.LOAD_API;
const TOKEN = process.env.LOAD_TOKEN;
const SEED = Number(process.env.LOAD_SEED || 200);
const MAX_SECONDS = Number(process.env.LOAD_MAX_SECONDS || 30);
// Requests per run: every client sends this many (at least LOAD_MIN_REQUESTS per run).
const PER_CLIENT = Number(process.env.LOAD_PER_CLIENT || 10);
const MIN_REQUESTS = Number(process.env.LOAD_MIN_REQUESTS || 100);
const CLIENTS = (process.env.LOAD_CLIENTS || "1,16,64").split(",").map(Number);
if (!API || !TOKEN) {
  console.error("LOAD_API and LOAD_TOKEN are required (make load sets them)");
  process.exit(2);
}
const url = new URL(API);
if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
  console.error(`refusing to load ${API}: loopback only`);
  process.exit(2);
}

const headers = {
  authorization: `Bearer ${TOKEN}`,
  "content-type": "application/json",
};
const SURNAMES = ["Lovelace", "Hopper", "Turing", "Noether", "Curie", "Meitner", "Franklin", "Germain"];
let serial = 0;
const newContact = () => {
  serial += 1;
  const n = `${process.pid}-${serial}-${crypto.randomBytes(3).toString("hex")}`;
  return {
    first_name: `Load${serial}`,
    last_name: SURNAMES[serial % SURNAMES.length],
    email: `load-${n}@example.com`,
  };
};

async function seed() {
  const ids = [];
  let next = 0;
  const worker = async () => {
    while (next < SEED) {
      next += 1;
      const r = await fetch(`${API}/contacts`, {
        method: "POST",
        headers,
        body: JSON.stringify(newContact()),
      });
      if (r.status !== 201) throw new Error(`seeding: POST /contacts answered ${r.status}: ${await r.text()}`);
      ids.push((await r.json()).id);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: 8 }, worker));
  console.log(`seeded ${ids.length} contacts in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ids;
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

function scenarios(ids) {
  return {
    create: {
      method: "POST",
      path: "/contacts",
      setupRequest: (req) => ({
        ...req,
        headers: { ...req.headers, "idempotency-key": crypto.randomUUID() },
        body: JSON.stringify(newContact()),
      }),
    },
    get: { method: "GET", setupRequest: (req) => ({ ...req, path: `/contacts/${pick(ids)}` }) },
    list: { method: "GET", path: "/contacts?limit=50" },
    search: {
      method: "GET",
      setupRequest: (req) => ({ ...req, path: `/contacts?q=${pick(SURNAMES).slice(0, 3).toLowerCase()}&limit=20` }),
    },
  };
}

function run(request, connections) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: API,
        connections,
        amount: Math.max(MIN_REQUESTS, PER_CLIENT * connections),
        timeout: MAX_SECONDS,
        headers,
        requests: [request],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    // Bounded in time as well as in requests.
    const stop = setTimeout(() => instance.stop(), MAX_SECONDS * 1000);
    instance.on("done", () => clearTimeout(stop));
  });
}

(async () => {
  const ids = await seed();
  const rows = [];
  for (const [name, request] of Object.entries(scenarios(ids))) {
    for (const clients of CLIENTS) {
      const r = await run(request, clients);
      const errors = r.errors + r.timeouts + r.non2xx;
      rows.push({
        route: name,
        clients,
        requests: r.requests.total,
        "req/s": r.requests.average.toFixed(0),
        "p50 ms": r.latency.p50,
        "p99 ms": r.latency.p99,
        errors,
      });
      console.log(
        `${name} @${clients}: ${r.requests.total} requests, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ` +
          `errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}`,
      );
    }
  }
  const cols = Object.keys(rows[0]);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => "| " + cells.map((c, i) => String(c).padStart(width[i])).join(" | ") + " |";
  console.log("\n" + line(cols));
  console.log("|" + width.map((w) => "-".repeat(w + 1) + ":").join("|") + "|");
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
  if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
