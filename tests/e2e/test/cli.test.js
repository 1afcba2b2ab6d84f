// The binary's command line: an invalid config is refused at start with every problem listed
// by its YAML path, and --check-config validates without serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { binaries, REPO_ROOT } from '../lib/harness.js';

function runTollgate(args, env = {}) {
  const { gateway } = binaries();
  return spawnSync(gateway, args, { encoding: 'utf8', timeout: 10000, env: { PATH: process.env.PATH, ...env } });
}

test('invalid config exits non-zero and lists every problem with its YAML path', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-cli-'));
  try {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, [
      'model_list:',
      '  - model_name: a',
      '    litellm_params: {model: openai/x, api_base: "not a url"}',
      '  - litellm_params: {model: openai/y}',
      'general_settings: {master_key: no-prefix}',
      'router_settings: {surprise: 1}',
      '',
    ].join('\n'));
    const r = runTollgate(['--config', file, '--port', '0']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /model_list\[0\]\.litellm_params\.api_base/);
    assert.match(r.stderr, /model_list\[1\]\.model_name/);
    assert.match(r.stderr, /general_settings\.master_key/);
    assert.match(r.stderr, /router_settings\.surprise: unknown key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--check-config accepts the shipped default config', () => {
  const r = runTollgate(['--check-config', '--config', path.join(REPO_ROOT, 'config', 'config.yaml')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /config OK: 2 deployments/);
});

test('bad flags exit 2 with usage', () => {
  const r = runTollgate(['--port', 'seventy']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--port needs a number/);
});
