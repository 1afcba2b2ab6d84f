#!/usr/bin/env node
'use strict';
// Cold start for benchmarks/run: spawns the gateway --runs times and measures, in milliseconds,
// the time from spawn() to the first HTTP 200 on GET /health/liveliness, polling every 1 ms on a
// fresh connection each time. (A curl loop would poll no faster than curl's own ~5-10 ms
// fork+exec, the same order as what is measured.) Each process is stopped with SIGTERM (SIGKILL
// after 10 s) before the next run. Prints one JSON object on stdout.
//
// usage: coldstart.js --port P --runs N --log FILE -- BINARY ARGS...
const http = require('node:http');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { parseArgs } = require('node:util');

const { values: opt, positionals: cmd } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    runs: { type: 'string', default: '5' },
    log: { type: 'string', default: '/dev/null' },
    timeout: { type: 'string', default: '30' },
  },
});
if (!opt.port || cmd.length === 0) {
  console.error('usage: coldstart.js --port P [--runs N] [--log FILE] -- BINARY ARGS...');
  process.exit(2);
}
const port = Number(opt.port);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function probe() {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health/liveliness', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.setTimeout(1000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    const kill = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  });
}

let current = null;  // the gateway being measured; stopped if we are told to stop
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { if (current) current.kill('SIGKILL'); process.exit(1); });
}

async function oneRun(i) {
  if ((await probe()) !== 0) throw new Error(`port ${port} already answers before the start`);
  const log = fs.openSync(opt.log, 'a');
  fs.writeSync(log, `--- cold start run ${i + 1}\n`);
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', log, log] });
  current = child;
  fs.closeSync(log);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `exited (code ${code}, signal ${sig})`; });
  child.on('error', (e) => { exited = `failed to start: ${e.message}`; });
  const limit = t0 + BigInt(Number(opt.timeout) * 1e9);
  for (;;) {
    const status = await probe();
    const t = process.hrtime.bigint();
    if (status === 200) {
      const ms = Number(t - t0) / 1e6;
      await stop(child);
      return ms;
    }
    if (exited) throw new Error(`gateway ${exited} before answering 200 (log: ${opt.log})`);
    if (t > limit) {
      await stop(child);
      throw new Error(`no 200 on /health/liveliness within ${opt.timeout} s (last status ${status})`);
    }
    await sleep(1);
  }
}

async function main() {
  const runs = [];
  let error = null;
  try {
    for (let i = 0; i < Number(opt.runs); i++) {
      runs.push(await oneRun(i));
      // Let the port and the previous process's resources go before the next start.
      for (let w = 0; w < 1000 && (await probe()) !== 0; w++) await sleep(1);
    }
  } catch (e) {
    error = e.message;
  }
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = !sorted.length ? null : sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  process.stdout.write(JSON.stringify({ runs_ms: runs, median_ms: median, error }) + '\n');
  process.exit(error ? 1 : 0);
}
main();
