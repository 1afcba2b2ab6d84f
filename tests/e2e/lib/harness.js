// End-to-end harness: starts the fake OpenAI-compatible provider and the real
// tollgate gateway as child processes, on ephemeral ports, and stops them again.
//
//   const h = await startHarness();
//   const client = h.client();          // official `openai` SDK pointed at the gateway
//   ...
//   await h.stop();                     // SIGTERM both; throws unless the gateway exits 0
//
// Binaries come from ${TOLLGATE_BUILD_DIR:-<repo>/build}:
//   tollgate                      (the gateway)
//   tests/tollgate-fake-provider  (the fake upstream)
//
// Environment knobs:
//   TOLLGATE_BUILD_DIR             build directory (default <repo>/build)
//   TOLLGATE_E2E_START_TIMEOUT_MS  how long to wait for "listening" lines (default 15000)
//   TOLLGATE_E2E_STOP_TIMEOUT_MS   how long to wait for exit after SIGTERM (default 15000)
//   TOLLGATE_E2E_KEEP_TMP=1        keep the temp dir (config file, gateway cwd) for inspection
//   TOLLGATE_E2E_VERBOSE=1         echo child stdout/stderr to this process's stderr
//
// Dry run (no binaries needed): `node lib/harness.js --print-config [FAKE_PORT]`
// prints the config the harness would write.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import OpenAI from 'openai';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..', '..');

export const MASTER_KEY = 'sk-e2e-master';
export const UPSTREAM_KEY = 'sk-upstream-test';
export const FAKE_TEXT = 'Hello from the fake provider.';
export const DEMO_TEXT = "Hello from Tollgate's demo model.";
// The fake provider's default usage per request (tests/support/fake_openai.cpp:
// kDefaultPromptTokens / kDefaultCompletionTokens; completion tokens are per choice).
export const FAKE_PROMPT_TOKENS = 11;
export const FAKE_COMPLETION_TOKENS = 7;
// Default embedding size of the fake (without `dimensions`).
export const FAKE_EMBEDDING_DIMS = 8;

const START_TIMEOUT_MS = Number(process.env.TOLLGATE_E2E_START_TIMEOUT_MS ?? 15000);
const STOP_TIMEOUT_MS = Number(process.env.TOLLGATE_E2E_STOP_TIMEOUT_MS ?? 15000);
const VERBOSE = process.env.TOLLGATE_E2E_VERBOSE === '1';
const KEEP_TMP = process.env.TOLLGATE_E2E_KEEP_TMP === '1';
const LOG_TAIL_LINES = 200;

// Environment variables that would make the gateway talk to shared services or
// override the config's master key; the e2e run is hermetic, so drop them.
const SCRUBBED_ENV = [
  'DATABASE_URL',
  'LITELLM_MASTER_KEY',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_PASSWORD',
  'REDIS_URL',
];

export function buildDir() {
  const dir = process.env.TOLLGATE_BUILD_DIR;
  return dir ? path.resolve(dir) : path.join(REPO_ROOT, 'build');
}

export function binaries() {
  const dir = buildDir();
  return {
    gateway: path.join(dir, 'tollgate'),
    fake: path.join(dir, 'tests', 'tollgate-fake-provider'),
  };
}

/** The LiteLLM-format config the gateway runs with (fake provider on `fakePort`). */
export function renderConfig({ fakePort, masterKey = MASTER_KEY } = {}) {
  if (!Number.isInteger(fakePort) || fakePort <= 0 || fakePort > 65535) {
    throw new Error(`renderConfig: bad fakePort ${fakePort}`);
  }
  const base = `http://127.0.0.1:${fakePort}/v1`;
  return [
    'model_list:',
    '  - model_name: gpt-fake',
    `    litellm_params: {model: openai/fake-model, api_base: "${base}", api_key: ${UPSTREAM_KEY}}`,
    '    model_info: {id: fake-a}',
    '  - model_name: gpt-fake',
    `    litellm_params: {model: openai/fake-model, api_base: "${base}", api_key: ${UPSTREAM_KEY}}`,
    '    model_info: {id: fake-b}',
    '  - model_name: text-embedding-fake',
    `    litellm_params: {model: openai/fake-embed, api_base: "${base}", api_key: ${UPSTREAM_KEY}}`,
    '  - model_name: priced-fake',
    `    litellm_params: {model: openai/fake-model, api_base: "${base}", api_key: ${UPSTREAM_KEY}, ` +
      'input_cost_per_token: 0.000001, output_cost_per_token: 0.000004}',
    '  - model_name: demo',
    `    litellm_params: {model: openai/demo, mock_response: "${DEMO_TEXT}"}`,
    // Anthropic's Messages API on the fake provider (POST /v1/messages, x-api-key).
    '  - model_name: claude-fake',
    `    litellm_params: {model: anthropic/claude-3-5-haiku-20241022, api_base: "${base}", api_key: ${UPSTREAM_KEY}}`,
    `general_settings: {master_key: ${masterKey}, proxy_batch_write_at: 1}`,
    // Quoted: bare `off` is a YAML 1.1 boolean, and the loader wants the string "off".
    'tollgate_settings: {access_log: "off"}',
    '',
  ].join('\n');
}

/** Writes the config into `dir`; returns the file path. */
export function writeConfig(dir, opts) {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, renderConfig(opts), { mode: 0o600 });
  return file;
}

// ---------------------------------------------------------------------------
// Child process bookkeeping: every child we start is killed when this process
// goes away, whatever the reason (test failure, uncaught error, Ctrl-C).

const live = new Set();
const liveTmpDirs = new Set();

function removeTmp(dir) {
  liveTmpDirs.delete(dir);
  if (!KEEP_TMP) rmSync(dir, { recursive: true, force: true });
}

function killAllNow() {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of [...liveTmpDirs]) {
    try {
      removeTmp(dir);
    } catch {
      // best effort on the way out
    }
  }
}

process.once('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllNow();
    process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[sig]);
  });
}

// If whoever started this process dies (e.g. the `node --test` runner got
// SIGTERM/SIGKILL; it does not forward signals to its test-file processes),
// we are reparented: kill our children and exit instead of running on.
const ORIGINAL_PPID = process.ppid;
setInterval(() => {
  if (live.size > 0 && process.ppid !== ORIGINAL_PPID) {
    killAllNow();
    process.exit(1);
  }
}, 250).unref();

/** A started child process with captured output and a promise for its exit. */
class Proc {
  constructor(name, file, args, opts) {
    this.name = name;
    this.file = file;
    this.args = args;
    this.stdoutLines = [];
    this.stderrLines = [];
    this.exitCode = undefined; // number | null once exited
    this.exitSignal = undefined;
    this.child = spawn(file, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.spawnError = err;
        live.delete(this);
        if (this.exitCode === undefined) this.exitCode = null;
        resolve({ code: null, signal: null, error: err });
      });
      // 'close' (not 'exit'): fires once stdout/stderr are drained too, so the
      // captured output is complete when someone awaits `exited`.
      this.child.once('close', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        resolve({ code, signal });
      });
    });
    this._lineWaiters = [];
    this._capture(this.child.stdout, this.stdoutLines, 'stdout');
    this._capture(this.child.stderr, this.stderrLines, 'stderr');
  }

  get pid() {
    return this.child.pid;
  }

  get running() {
    return this.exitCode === undefined;
  }

  _capture(stream, sink, label) {
    // Keep draining after startup too, so a chatty child never blocks on a full pipe.
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => {
      sink.push(line);
      if (sink.length > LOG_TAIL_LINES) sink.shift();
      if (VERBOSE) process.stderr.write(`[${this.name} ${label}] ${line}\n`);
      if (label === 'stdout') {
        for (const w of [...this._lineWaiters]) w(line);
      }
    });
  }

  describe() {
    const status = this.spawnError
      ? `failed to spawn: ${this.spawnError.message}`
      : this.running
        ? `still running (pid ${this.pid})`
        : `exited with code ${this.exitCode}${this.exitSignal ? ` (signal ${this.exitSignal})` : ''}`;
    const out = this.stdoutLines.slice(-40).join('\n') || '(empty)';
    const err = this.stderrLines.slice(-80).join('\n') || '(empty)';
    return (
      `${this.name}: ${this.file} ${this.args.join(' ')}\n` +
      `  status: ${status}\n` +
      `  --- stdout (tail) ---\n${indent(out)}\n` +
      `  --- stderr (tail) ---\n${indent(err)}`
    );
  }

  /**
   * Resolves with the first regex match on a stdout line (including lines
   * already seen); rejects on exit or timeout, with the process's output.
   */
  waitForStdout(regex, what, timeoutMs = START_TIMEOUT_MS) {
    for (const line of this.stdoutLines) {
      const m = line.match(regex);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this._lineWaiters = this._lineWaiters.filter((w) => w !== onLine);
        fn(value);
      };
      const onLine = (line) => {
        const m = line.match(regex);
        if (m) finish(resolve, m);
      };
      this._lineWaiters.push(onLine);
      const timer = setTimeout(() => {
        finish(reject, new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`));
      }, timeoutMs);
      this.exited.then(() => {
        // Give readline a tick to flush the last lines before deciding.
        setImmediate(() => {
          for (const line of this.stdoutLines) {
            const m = line.match(regex);
            if (m) return finish(resolve, m);
          }
          finish(reject, new Error(`${this.name} exited before printing ${what}\n${this.describe()}`));
        });
      });
    });
  }

  /** Sends `signal` and waits for exit; SIGKILLs after `timeoutMs`. */
  async terminate(signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS) {
    if (!this.running) return { code: this.exitCode, signal: this.exitSignal, killed: false };
    this.child.kill(signal);
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const r = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.child.kill('SIGKILL');
      const k = await this.exited;
      return { ...k, killed: true };
    }
    return { ...r, killed: false };
  }
}

function indent(s) {
  return s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function childEnv() {
  const env = { ...process.env };
  for (const k of SCRUBBED_ENV) delete env[k];
  return env;
}

function requireBinary(file, what) {
  if (!existsSync(file)) {
    throw new Error(
      `${what} not found at ${file}\n` +
        `Build the project first (cmake --build build) or set TOLLGATE_BUILD_DIR (now: ${buildDir()}).`,
    );
  }
}

// "listening on port 43121" — exactly, from the fake provider.
const FAKE_READY = /^listening on port (\d+)\s*$/;
// "tollgate listening on 127.0.0.1:43122" — the port is the last token after ':'.
const GATEWAY_READY = /tollgate listening on (\S+)/;

/**
 * Starts the fake provider and the gateway. Returns a Harness; call stop() when
 * done (it is safe to call more than once). On any startup failure everything
 * already started is killed and the error names the process and its output.
 */
export async function startHarness({ name = 'e2e' } = {}) {
  const bins = binaries();
  requireBinary(bins.fake, 'fake provider (tollgate-fake-provider)');
  requireBinary(bins.gateway, 'gateway (tollgate)');

  const tmp = mkdtempSync(path.join(tmpdir(), `tollgate-e2e-${name}-`));
  liveTmpDirs.add(tmp);
  let fake;
  let gateway;
  try {
    fake = new Proc('fake-provider', bins.fake, ['--port', '0'], { cwd: tmp, env: childEnv() });
    const fm = await fake.waitForStdout(FAKE_READY, '"listening on port N"');
    const fakePort = Number(fm[1]);

    const configPath = writeConfig(tmp, { fakePort });
    gateway = new Proc(
      'tollgate',
      bins.gateway,
      ['--config', configPath, '--host', '127.0.0.1', '--port', '0'],
      { cwd: tmp, env: childEnv() },
    );
    const gm = await gateway.waitForStdout(GATEWAY_READY, '"tollgate listening on 127.0.0.1:PORT"');
    const addr = gm[1];
    const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
    if (!Number.isInteger(port) || port <= 0) {
      throw new Error(`could not parse a port from gateway line ${JSON.stringify(gm[0])}\n${gateway.describe()}`);
    }
    return new Harness({ tmp, fake, fakePort, gateway, port, configPath });
  } catch (err) {
    for (const p of [gateway, fake]) {
      if (p && p.running) await p.terminate('SIGKILL', 5000);
    }
    removeTmp(tmp);
    throw err;
  }
}

/**
 * Runs `fn(harness)` on a fresh harness and always stops it. A failure inside
 * `fn` wins over a failure to stop (which is appended to its message).
 */
export async function withHarness(name, fn) {
  const h = await startHarness({ name });
  let failure;
  try {
    return await fn(h);
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    try {
      await h.stop();
    } catch (stopErr) {
      if (!failure) throw stopErr;
      if (failure instanceof Error) failure.message += `\n(also while stopping: ${stopErr.message})`;
    }
  }
}

export class Harness {
  constructor({ tmp, fake, fakePort, gateway, port, configPath }) {
    this.tmp = tmp;
    this.fake = fake;
    this.fakePort = fakePort;
    this.gateway = gateway;
    this.port = port;
    this.configPath = configPath;
    this.baseURL = `http://127.0.0.1:${port}/v1`;
    this._stopped = null;
  }

  /** Official OpenAI SDK client pointed at the gateway. */
  client(opts = {}) {
    return new OpenAI({ baseURL: this.baseURL, apiKey: MASTER_KEY, maxRetries: 0, timeout: 30_000, ...opts });
  }

  /** Sends `signal` to the gateway (e.g. to test graceful shutdown mid-stream). */
  signalGateway(signal = 'SIGTERM') {
    this.gateway.child.kill(signal);
  }

  /** Resolves with {code, signal} when the gateway exits. */
  gatewayExited() {
    return this.gateway.exited;
  }

  /** Diagnostic text for both processes (output tails, status). */
  describe() {
    return `${this.gateway.describe()}\n${this.fake.describe()}`;
  }

  /**
   * Stops the gateway (SIGTERM, expect exit 0) and then the fake provider.
   * Always leaves no process behind; throws if the gateway did not exit 0 by itself.
   */
  stop() {
    if (!this._stopped) this._stopped = this._stop();
    return this._stopped;
  }

  async _stop() {
    const problems = [];
    let g;
    try {
      g = this.gateway.running
        ? await this.gateway.terminate('SIGTERM')
        : { code: this.gateway.exitCode, signal: this.gateway.exitSignal, killed: false };
      if (g.killed) problems.push(`gateway did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (SIGKILLed)`);
      else if (g.code !== 0) problems.push(`gateway exited with code ${g.code}${g.signal ? ` signal ${g.signal}` : ''}, expected 0`);
    } finally {
      const f = await this.fake.terminate('SIGTERM', 5000);
      if (f.killed) problems.push('fake provider did not exit on SIGTERM (SIGKILLed)');
      removeTmp(this.tmp);
    }
    if (problems.length) {
      throw new Error(`${problems.join('; ')}\n${this.describe()}`);
    }
    return g;
  }
}

// Dry run: print the config that would be written.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--print-config') {
    process.stdout.write(renderConfig({ fakePort: Number(args[1] ?? 12345) }));
  } else if (args[0] === '--print-paths') {
    process.stdout.write(`${JSON.stringify({ repo: REPO_ROOT, buildDir: buildDir(), ...binaries() }, null, 2)}\n`);
  } else {
    process.stderr.write('usage: node lib/harness.js --print-config [FAKE_PORT] | --print-paths\n');
    process.exit(2);
  }
}
