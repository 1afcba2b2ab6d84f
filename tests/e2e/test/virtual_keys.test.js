// End-to-end: virtual keys minted through the admin API, used by the official `openai` SDK.
// The SDK must see LiteLLM's answers as its own error classes: a model the key may not use is an
// AuthenticationError (401, type key_model_access_denied), an rpm limit a RateLimitError (429).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { DEMO_TEXT, MASTER_KEY, startHarness } from '../lib/harness.js';

const USER_MSG = [{ role: 'user', content: 'Say hello.' }];

describe('virtual keys through the openai SDK', () => {
  let h;
  before(async () => {
    h = await startHarness({ name: 'keys' });
  });
  after(async () => {
    if (h) await h.stop();
  });

  async function admin(path, body) {
    const res = await fetch(`http://127.0.0.1:${h.port}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
    return json;
  }

  it('a key limited to one model calls it, is refused another, and lists only its own', async () => {
    const { key } = await admin('/key/generate', { models: ['demo'], key_alias: 'e2e' });
    assert.match(key, /^sk-/);
    const client = h.client({ apiKey: key });

    const ok = await client.chat.completions.create({ model: 'demo', messages: USER_MSG });
    assert.equal(ok.choices[0].message.content, DEMO_TEXT);

    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-fake', messages: USER_MSG }),
      (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 401);
        assert.equal(err.error?.type, 'key_model_access_denied');
        assert.match(err.message, /key not allowed to access model/);
        return true;
      },
    );

    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['demo']);
  });

  it('an rpm limit answers RateLimitError with retry-after once spent', async () => {
    const { key } = await admin('/key/generate', { rpm_limit: 2 });
    const client = h.client({ apiKey: key });
    for (let i = 0; i < 2; i++) {
      const r = await client.chat.completions.create({ model: 'demo', messages: USER_MSG });
      assert.equal(r.choices[0].message.content, DEMO_TEXT);
    }
    await assert.rejects(client.chat.completions.create({ model: 'demo', messages: USER_MSG }), (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.ok(Number(err.headers?.get?.('retry-after') ?? err.headers?.['retry-after']) >= 1);
      return true;
    });
  });

  it('streamed usage carries the same cost as the whole answer, and both reach the spend logs', async () => {
    const { key, token } = await admin('/key/generate', {});
    const client = h.client({ apiKey: key });
    const { data: whole, response } = await client.chat.completions
      .create({ model: 'priced-fake', messages: USER_MSG })
      .withResponse();
    const cost = Number(response.headers.get('x-litellm-response-cost'));
    assert.ok(cost > 0, `cost header: ${response.headers.get('x-litellm-response-cost')}`);

    const stream = await client.chat.completions.create({
      model: 'priced-fake',
      messages: USER_MSG,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    assert.ok(usage, 'no usage chunk');
    assert.equal(usage.cost, cost);
    assert.equal(usage.total_tokens, whole.usage.total_tokens);

    let rows = [];
    for (let i = 0; i < 50 && rows.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`http://127.0.0.1:${h.port}/spend/logs?api_key=${token}`, {
        headers: { authorization: `Bearer ${MASTER_KEY}` },
      });
      rows = await res.json();
    }
    assert.equal(rows.length, 2, JSON.stringify(rows));
    for (const row of rows) {
      assert.equal(row.spend, cost);
      assert.equal(row.model_group, 'priced-fake');
      assert.equal(row.status, 'success');
    }
  });

  it('a deleted key is refused with AuthenticationError', async () => {
    const { key } = await admin('/key/generate', {});
    const client = h.client({ apiKey: key });
    await client.chat.completions.create({ model: 'demo', messages: USER_MSG });
    await admin('/key/delete', { keys: [key] });
    await assert.rejects(client.chat.completions.create({ model: 'demo', messages: USER_MSG }), OpenAI.AuthenticationError);
  });
});
