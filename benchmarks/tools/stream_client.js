#!/usr/bin/env node
'use strict';
// SSE load client for benchmarks/run (no npm dependencies).
//
// Runs --concurrency request loops over one keep-alive agent for --duration seconds (after
// --warmup seconds whose results are discarded). Each request POSTs --body-file and reads the
// whole event stream. Per request it records the time from sending to the first body byte (TTFB),
// counts SSE events ("\n\n"-terminated) and checks the body is byte-identical to --expect-file
// (with --strip-usage-cost, after removing the `"cost":N,` the gateway adds first in the usage
// object of a priced deployment's usage chunk; everything else must match byte for byte).
// Prints one JSON object on stdout.
const http = require('node:http');
const fs = require('node:fs');
const { parseArgs } = require('node:util');

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    'body-file': { type: 'string' },
    'expect-file': { type: 'string' },
    auth: { type: 'string', default: '' },
    concurrency: { type: 'string', default: '1' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '10' },
    'strip-usage-cost': { type: 'boolean', default: false },
  },
});
for (const k of ['url', 'body-file', 'expect-file']) {
  if (!opt[k]) { console.error(`stream_client: --${k} is required`); process.exit(2); }
}

const url = new URL(opt.url);
const body = fs.readFileSync(opt['body-file']);
const expected = fs.readFileSync(opt['expect-file']);
const concurrency = Number(opt.concurrency);
const durationMs = Number(opt.duration) * 1000;
const warmupMs = Number(opt.warmup) * 1000;
const timeoutMs = Number(opt.timeout) * 1000;
const headers = { 'content-type': 'application/json', 'content-length': body.length, accept: 'text/event-stream' };
if (opt.auth) headers.authorization = opt.auth;

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });

function countEvents(buf) {
  let n = 0;
  for (let i = buf.indexOf('\n\n'); i !== -1; i = buf.indexOf('\n\n', i + 2)) n++;
  return n;
}

function once() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let first = 0n;
    const parts = [];
    let len = 0;
    let settled = false;
    const finish = (r) => { if (!settled) { settled = true; resolve(r); } };
    const req = http.request({
      agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers,
    }, (res) => {
      res.on('data', (d) => {
        if (first === 0n) first = process.hrtime.bigint();
        parts.push(d);
        len += d.length;
      });
      res.on('end', () => finish({
        status: res.statusCode,
        ctype: String(res.headers['content-type'] || ''),
        ttfbUs: first === 0n ? -1 : Number(first - t0) / 1000,
        body: Buffer.concat(parts, len),
      }));
      res.on('error', (e) => finish({ error: `response: ${e.code || e.message}` }));
      res.on('aborted', () => finish({ error: 'response aborted' }));
    });
    req.setTimeout(timeoutMs, () => { req.destroy(new Error('timeout')); });
    req.on('error', (e) => finish({ error: `request: ${e.code || e.message}` }));
    req.end(body);
  });
}

const stats = {
  requests: 0, ok: 0, errors: 0, non200: 0, mismatches: 0, events: 0, bytes: 0, first_problem: null,
};
const ttfb = [];
let measuring = false;

function problem(msg) { if (!stats.first_problem) stats.first_problem = msg; }

async function loop(deadline) {
  while (Date.now() < deadline) {
    const r = await once();
    if (!measuring) continue;
    stats.requests++;
    if (r.error) { stats.errors++; problem(r.error); continue; }
    if (r.status !== 200) {
      stats.non200++;
      problem(`HTTP ${r.status}: ${r.body.subarray(0, 200).toString()}`);
      continue;
    }
    if (opt['strip-usage-cost']) {
      r.body = Buffer.from(r.body.toString('latin1').replace(/"usage":\{"cost":[0-9.eE+-]+,/g, '"usage":{'), 'latin1');
    }
    if (!r.body.equals(expected) || !r.ctype.startsWith('text/event-stream')) {
      stats.mismatches++;
      let at = 0;
      while (at < r.body.length && at < expected.length && r.body[at] === expected[at]) at++;
      problem(`body differs from the mock's bytes at offset ${at} (got ${r.body.length} bytes, ` +
        `expected ${expected.length}; content-type "${r.ctype}"): ` +
        JSON.stringify(r.body.subarray(Math.max(0, at - 20), at + 60).toString()));
      continue;
    }
    stats.ok++;
    stats.bytes += r.body.length;
    stats.events += countEvents(r.body);
    ttfb.push(r.ttfbUs);
  }
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function main() {
  const loops = (ms) => Promise.all(Array.from({ length: concurrency }, () => loop(Date.now() + ms)));
  if (warmupMs > 0) await loops(warmupMs);
  measuring = true;
  const t0 = process.hrtime.bigint();
  await loops(durationMs);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  ttfb.sort((a, b) => a - b);
  const out = {
    ...stats,
    concurrency,
    seconds: Number(secs.toFixed(3)),
    streams_per_s: stats.ok / secs,
    chunks_per_s: stats.events / secs,
    events_per_stream: countEvents(expected),
    ttfb_p50_us: pct(ttfb, 50),
    ttfb_p99_us: pct(ttfb, 99),
    ttfb_mean_us: ttfb.length ? ttfb.reduce((a, b) => a + b, 0) / ttfb.length : null,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
