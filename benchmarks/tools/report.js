#!/usr/bin/env node
'use strict';
// Turns the per-round results of benchmarks/run (JSON lines) into the Markdown report.
// usage: report.js RESULTS.jsonl   (run metadata comes from BENCH_* environment variables)
// Exits 1 when any row is INVALID (socket errors, non-2xx answers, byte mismatches, failed runs).
const fs = require('node:fs');

const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const env = (k, d = '') => process.env[k] || d;
const selected = env('BENCH_SCENARIOS').split(',').filter(Boolean);
const targets = ['direct', 'nginx', 'tollgate'];

const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const int = (x) => (x == null ? '—' : Math.round(x).toLocaleString('en-US'));
const us = (x) => {
  if (x == null) return '—';
  if (Math.abs(x) < 1000) return `${Math.round(x)} µs`;
  return `${(x / 1000).toFixed(Math.abs(x) < 10000 ? 2 : 1)} ms`;
};
const signedUs = (x) => (x == null ? 'n/a' : `${x >= 0 ? '+' : '−'}${us(Math.abs(x))}`);
const ratio = (a, b) => (a == null || b == null || b === 0 ? 'n/a' : (a / b).toFixed(2));
const mib = (kib) => (kib == null ? '—' : `${(kib / 1024).toFixed(1)} MiB`);

// One row per (scenario key, target): medians over the rounds, or INVALID / skipped.
function row(key, target) {
  const rs = lines.filter((l) => l.scenario === key && l.target === target);
  if (!rs.length) return null;
  const skipped = rs.find((l) => l.skipped);
  if (skipped) return { skipped: skipped.skipped };
  const bad = rs.filter((l) => !l.valid);
  const r = { rounds: rs, invalid: bad.length ? cell(bad.map((l) => `round ${l.round}: ${l.reason}`).join('; ')) : null };
  for (const k of ['rps', 'p50_us', 'p99_us', 'chunks_per_s', 'rss_kib', 'hwm_kib', 'nginx_rss_kib', 'median_ms', 'cpu_us_per_req']) {
    r[k] = median(rs.map((l) => l[k]));
  }
  r.hwm_kib = rs.reduce((m, l) => (l.hwm_kib > (m || 0) ? l.hwm_kib : m), null);
  r.ok = rs.reduce((a, l) => a + (l.ok || 0), 0);
  r.requests = rs.reduce((a, l) => a + (l.requests || 0), 0);
  r.events_per_stream = rs[0].events_per_stream;
  r.runs_ms = rs[0].runs_ms;
  return r;
}
// Text from a run (error snippets) must not break the table.
function cell(s) { return String(s).replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' '); }
const good = (r) => r && !r.skipped && !r.invalid;

const scenarios = [
  { key: 'small', sel: 'small', label: 'small chat, 1 connection', kind: 'wrk' },
  { key: 'saturated', sel: 'saturated', label: `small chat, ${env('BENCH_SAT_CONNS', '64')} connections`, kind: 'wrk' },
  { key: 'large', sel: 'large', label: `large prompt (${env('BENCH_LARGE_KB', '200')} KiB), ${env('BENCH_LARGE_CONNS', '16')} connections`, kind: 'wrk' },
  ...env('BENCH_STREAM_CONCURRENCY', '1 256').split(/\s+/).filter(Boolean).map((c) => (
    { key: `stream-${c}`, sel: 'stream', label: `streaming, ${c} concurrent stream${c === '1' ? '' : 's'}`, kind: 'stream' })),
  { key: 'coldstart', sel: 'coldstart', label: 'cold start', kind: 'coldstart' },
];

const out = [];
const p = (s = '') => out.push(s);
let invalid = 0;

p(`## Tollgate benchmark — ${env('BENCH_DATE')}`);
p();
p(`- commit: ${env('BENCH_COMMIT')}`);
p(`- machine: ${env('BENCH_NPROC')} cores (nproc), ${env('BENCH_CPU')}; ${env('BENCH_KERNEL')}`);
p(`- method: ${env('BENCH_ROUNDS')} interleaved round(s) × ${env('BENCH_DURATION')} s per run` +
  `${env('BENCH_QUICK') ? ' (--quick)' : ''}, medians of the rounds; warm-up ${env('BENCH_WARMUP')} s per target`);
p(`- tollgate: ${env('BENCH_TOLLGATE')}`);
p(`- tools: ${env('BENCH_TOOLS')}`);
p();
p('| scenario | target | rps | p50 | p99 | figures | check |');
p('|---|---|--:|--:|--:|---|---|');

const details = [];
for (const sc of scenarios) {
  if (!selected.includes(sc.sel)) continue;
  if (sc.kind === 'coldstart') {
    const r = row(sc.key, 'tollgate');
    if (!r) continue;
    if (r.skipped) { p(`| ${sc.label} | tollgate | | | | | skipped: ${r.skipped} |`); continue; }
    if (r.invalid) { invalid++; p(`| ${sc.label} | tollgate | | | | | **INVALID**: ${r.invalid} |`); continue; }
    const runs = (r.runs_ms || []).map((x) => x.toFixed(1)).join(', ');
    p(`| ${sc.label} | tollgate | | | | **${r.median_ms.toFixed(1)} ms** to first 200 on /health/liveliness (median of ${r.runs_ms.length}: ${runs}) | ok |`);
    continue;
  }
  const rows = Object.fromEntries(targets.map((t) => [t, row(sc.key, t)]));
  for (const t of targets) {
    const r = rows[t];
    if (!r) continue;
    if (r.skipped) { p(`| ${sc.label} | ${t} | | | | | skipped: ${r.skipped} |`); continue; }
    if (r.invalid) { invalid++; p(`| ${sc.label} | ${t} | | | | | **INVALID**: ${r.invalid} |`); continue; }
    const figs = [];
    const d = rows.direct, n = rows.nginx;
    if (sc.kind === 'wrk') {
      if (sc.key === 'small' && t !== 'direct') {
        const ok = good(d);
        const label = t === 'tollgate' ? '**added vs direct**' : 'added vs direct';
        figs.push(`${label}: p50 ${ok ? signedUs(r.p50_us - d.p50_us) : 'n/a'}, p99 ${ok ? signedUs(r.p99_us - d.p99_us) : 'n/a'}`);
      }
      if ((sc.key === 'saturated' || sc.key === 'large') && t !== 'nginx') {
        const label = t === 'tollgate' ? '**rps ÷ nginx**' : 'rps ÷ nginx';
        figs.push(`${label} = ${good(n) ? ratio(r.rps, n.rps) : 'n/a'}`);
      }
      if (sc.key === 'large' && t === 'tollgate') {
        figs.push(`RSS ${mib(r.rss_kib)}, HWM ${mib(r.hwm_kib)} (VmRSS median after each round, VmHWM max)`);
      }
      if (sc.key === 'large' && t === 'nginx' && r.nginx_rss_kib != null) {
        figs.push(`worker RSS ${mib(r.nginx_rss_kib)}`);
      }
    } else {
      figs.push(`${int(r.chunks_per_s)} chunks/s; ${r.ok}/${r.requests} streams byte-identical (${r.events_per_stream} events each)`);
      if (t === 'tollgate') {
        const ok = good(n);
        figs.push(`**TTFB added vs nginx**: p50 ${ok ? signedUs(r.p50_us - n.p50_us) : 'n/a'}, p99 ${ok ? signedUs(r.p99_us - n.p99_us) : 'n/a'}`);
      }
    }
    if (t === 'tollgate' && r.cpu_us_per_req != null) {
      figs.push(`gateway CPU ${Math.round(r.cpu_us_per_req)} µs per ${sc.kind === 'wrk' ? 'request' : 'stream'}`);
    }
    p(`| ${sc.label} | ${t} | ${int(r.rps)} | ${us(r.p50_us)} | ${us(r.p99_us)} | ${figs.join('; ')} | ok |`);
    details.push(`- ${sc.label}, ${t}: rps ${r.rounds.map((l) => int(l.rps)).join(' / ')}`);
  }
}
p('| many open streams (10,000 slow) | | | | | not measured yet | — |');
p();
p('Notes:');
p('- rps, p50 and p99 are the medians over the rounds of each figure. Latency is wrk\'s, per request, ' +
  'client-side; "added" compares medians of the same run.');
p('- Streaming rows: rps = completed streams per second, p50/p99 = time from sending the request to the first ' +
  'body byte (TTFB); chunks/s counts SSE events received; every stream is compared byte for byte with what the ' +
  'mock sends (verified against the direct answer).');
p('- A row is INVALID (and reported without numbers) when any of its runs had socket errors, non-2xx answers, ' +
  'a byte mismatch or no completed request; the harness then exits non-zero.');
p('- Gateway CPU: user + system time of the tollgate process (every thread: io, spend writer, access log, ' +
  'store) over a run, divided by the requests (or streams) it completed; median over the rounds. Steadier than ' +
  'latency on a shared 2-core host, and what A/B comparisons of two builds should quote.');
p('- Many open streams (10,000 concurrent slow streams): not measured yet.');
p('- Compare ratios within one table, never absolute numbers from different runs or machines.');
if (details.length) {
  p();
  p('Per-round rps (in run order):');
  p();
  for (const l of details) p(l);
}
process.stdout.write(out.join('\n') + '\n');
process.exit(invalid ? 1 : 0);
