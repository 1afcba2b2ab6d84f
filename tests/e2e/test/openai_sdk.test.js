// End-to-end: the official `openai` npm SDK against the real tollgate binary,
// which proxies to the fake OpenAI-compatible provider (see ../lib/harness.js).
//
// Extra (non-OpenAI) body fields such as the fake provider's fault injection
// `fake: {...}` are passed as plain extra keys in the params object: the SDK
// (v5) serialises the params object as-is and does not validate it at runtime.
// (The request option `{ body }` would REPLACE the whole body, not merge into it.)

import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import {
  DEMO_TEXT,
  FAKE_COMPLETION_TOKENS,
  FAKE_EMBEDDING_DIMS,
  FAKE_PROMPT_TOKENS,
  FAKE_TEXT,
  MASTER_KEY,
  startHarness,
  withHarness,
} from '../lib/harness.js';

const USER_MSG = [{ role: 'user', content: 'Say hello.' }];
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

// ---------------------------------------------------------------------------
// helpers

// `exact`: the fake's defaults must come through unchanged.
function assertUsage(usage, where, exact = { prompt: FAKE_PROMPT_TOKENS, completion: FAKE_COMPLETION_TOKENS }) {
  assert.ok(usage, `${where}: usage missing`);
  assert.equal(typeof usage.prompt_tokens, 'number', `${where}: prompt_tokens`);
  assert.equal(typeof usage.completion_tokens, 'number', `${where}: completion_tokens`);
  assert.ok(usage.prompt_tokens > 0, `${where}: prompt_tokens > 0 (got ${usage.prompt_tokens})`);
  assert.ok(usage.completion_tokens > 0, `${where}: completion_tokens > 0 (got ${usage.completion_tokens})`);
  assert.equal(
    usage.total_tokens,
    usage.prompt_tokens + usage.completion_tokens,
    `${where}: total_tokens = prompt + completion`,
  );
  if (exact) {
    assert.equal(usage.prompt_tokens, exact.prompt, `${where}: prompt_tokens as sent by the fake`);
    assert.equal(usage.completion_tokens, exact.completion, `${where}: completion_tokens as sent by the fake`);
  }
}

/** Drains an SDK chat stream and summarises it. */
async function collectChat(stream) {
  const chunks = [];
  let text = '';
  const finish = [];
  const toolCalls = []; // by index: {id, type, name, arguments}
  for await (const chunk of stream) {
    chunks.push(chunk);
    for (const choice of chunk.choices ?? []) {
      const d = choice.delta ?? {};
      if (typeof d.content === 'string') text += d.content;
      if (choice.finish_reason) finish.push(choice.finish_reason);
      for (const tc of d.tool_calls ?? []) {
        const slot = (toolCalls[tc.index] ??= { id: '', type: '', name: '', arguments: '' });
        if (tc.id) slot.id += tc.id;
        if (tc.type) slot.type = tc.type;
        if (tc.function?.name) slot.name += tc.function.name;
        if (tc.function?.arguments) slot.arguments += tc.function.arguments;
      }
    }
  }
  return { chunks, text, finish, toolCalls };
}

function assertSseFraming(raw) {
  assert.ok(raw.endsWith('data: [DONE]\n\n'), `stream must end with "data: [DONE]\\n\\n"; tail: ${JSON.stringify(raw.slice(-80))}`);
  const events = raw.split('\n\n');
  assert.equal(events.pop(), '', 'every event is terminated by a blank line');
  for (const ev of events) {
    for (const line of ev.split('\n')) {
      assert.ok(
        line.startsWith('data: ') || line.startsWith(':'),
        `unexpected SSE line ${JSON.stringify(line)} in event ${JSON.stringify(ev)}`,
      );
    }
  }
  return events
    .map((ev) => ev.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'))
    .filter((d) => d !== '');
}

// ---------------------------------------------------------------------------
// Main suite: one gateway + fake provider shared by the tests that do not
// change router state (no upstream failures here, so no cooldowns).

describe('openai SDK against tollgate', { timeout: 120_000 }, () => {
  let h;
  let client;

  before(async () => {
    h = await startHarness({ name: 'main' });
    client = h.client();
  });

  // A gateway crash is blamed on the test that caused it (not on the ones after it).
  afterEach(async () => {
    if (!h) return;
    await sleep(50); // a crash right after the response was written shows up within this
    if (!h.gateway.running) {
      throw new Error(`the gateway died during this test; later tests will fail too\n${h.describe()}`);
    }
  });

  after(async () => {
    if (h) await h.stop();
  });

  describe('chat completions', () => {
    it('non-stream: content, usage and x-litellm-* headers', async () => {
      const { data, response } = await client.chat.completions
        .create({ model: 'gpt-fake', messages: USER_MSG })
        .withResponse();

      assert.equal(response.status, 200);
      assert.equal(data.object, 'chat.completion');
      assert.ok(data.id, 'id present');
      assert.equal(data.choices.length, 1);
      assert.equal(data.choices[0].index, 0);
      assert.equal(data.choices[0].message.role, 'assistant');
      assert.equal(data.choices[0].message.content, FAKE_TEXT);
      assert.equal(data.choices[0].finish_reason, 'stop');
      assertUsage(data.usage, 'non-stream');

      const modelId = response.headers.get('x-litellm-model-id');
      assert.ok(['fake-a', 'fake-b'].includes(modelId), `x-litellm-model-id = ${modelId}`);
      const callId = response.headers.get('x-litellm-call-id');
      assert.ok(callId && callId.length > 0, 'x-litellm-call-id present');
      assert.equal(response.headers.get('x-litellm-model-group'), 'gpt-fake');
    });

    it('spreads requests over both deployments of the group', async () => {
      const seen = new Set();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const { response } = await client.chat.completions
          .create({ model: 'gpt-fake', messages: USER_MSG, max_tokens: 8 })
          .withResponse();
        seen.add(response.headers.get('x-litellm-model-id'));
      }
      assert.deepEqual([...seen].sort(), ['fake-a', 'fake-b']);
    });

    it('each response has its own x-litellm-call-id', async () => {
      const ids = new Set();
      for (let i = 0; i < 3; i++) {
        const { response } = await client.chat.completions
          .create({ model: 'gpt-fake', messages: USER_MSG })
          .withResponse();
        ids.add(response.headers.get('x-litellm-call-id'));
      }
      assert.equal(ids.size, 3);
    });

    it('stream without include_usage: text, and the usage chunk the gateway asked for is hidden', async () => {
      const stream = await client.chat.completions.create({ model: 'gpt-fake', messages: USER_MSG, stream: true });
      const { chunks, text, finish } = await collectChat(stream);

      assert.ok(chunks.length > 0, 'at least one chunk');
      assert.equal(text, FAKE_TEXT);
      assert.deepEqual(finish, ['stop']);
      for (const c of chunks) {
        assert.equal(c.object, 'chat.completion.chunk');
        assert.ok(c.usage === undefined || c.usage === null, `no usage expected, got ${JSON.stringify(c)}`);
        assert.ok(Array.isArray(c.choices) && c.choices.length > 0, `no empty-choices chunk expected, got ${JSON.stringify(c)}`);
      }
    });

    it('stream: raw SSE framing is byte-correct (data: ...\\n\\n, ends with data: [DONE])', async () => {
      const res = await fetch(`${h.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-fake', messages: USER_MSG, stream: true }),
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const datas = assertSseFraming(await res.text());
      assert.equal(datas.at(-1), '[DONE]');
      const text = datas
        .slice(0, -1)
        .map((d) => JSON.parse(d))
        .map((c) => c.choices?.[0]?.delta?.content ?? '')
        .join('');
      assert.equal(text, FAKE_TEXT);
    });

    it('stream with stream_options.include_usage: last chunk carries usage', async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-fake',
        messages: USER_MSG,
        stream: true,
        stream_options: { include_usage: true },
      });
      const { chunks, text, finish } = await collectChat(stream);

      assert.equal(text, FAKE_TEXT);
      assert.deepEqual(finish, ['stop']);
      const last = chunks.at(-1);
      assert.deepEqual(last.choices, [], `last chunk has empty choices: ${JSON.stringify(last)}`);
      assertUsage(last.usage, 'usage chunk');
      for (const c of chunks.slice(0, -1)) {
        assert.ok(c.usage === undefined || c.usage === null, `only the last chunk has usage: ${JSON.stringify(c)}`);
      }
    });

    it('tools: non-stream answer is a tool call', async () => {
      const r = await client.chat.completions.create({
        model: 'gpt-fake',
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [WEATHER_TOOL],
      });
      const msg = r.choices[0].message;
      assert.ok(Array.isArray(msg.tool_calls) && msg.tool_calls.length >= 1, `tool_calls: ${JSON.stringify(msg)}`);
      const tc = msg.tool_calls[0];
      assert.equal(tc.type, 'function');
      assert.ok(tc.id, 'tool call id');
      assert.equal(tc.function.name, 'get_weather');
      assert.equal(typeof tc.function.arguments, 'string');
      assert.deepEqual(JSON.parse(tc.function.arguments), { location: 'Paris' }, 'arguments is the fake\'s JSON string');
      assert.equal(r.choices[0].finish_reason, 'tool_calls');
    });

    it('tools: streamed tool call', async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-fake',
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [WEATHER_TOOL],
        stream: true,
      });
      const { toolCalls, finish } = await collectChat(stream);
      assert.ok(toolCalls.length >= 1, 'streamed tool call');
      assert.equal(toolCalls[0].name, 'get_weather');
      assert.ok(toolCalls[0].id, 'tool call id');
      assert.deepEqual(JSON.parse(toolCalls[0].arguments), { location: 'Paris' }, `arguments: ${toolCalls[0].arguments}`);
      assert.deepEqual(finish, ['tool_calls']);
    });

    it('n: 2 returns two choices', async () => {
      const r = await client.chat.completions.create({ model: 'gpt-fake', messages: USER_MSG, n: 2 });
      assert.equal(r.choices.length, 2);
      assert.deepEqual(
        r.choices.map((c) => c.index).sort(),
        [0, 1],
      );
      for (const c of r.choices) assert.equal(c.message.content, FAKE_TEXT);
      assertUsage(r.usage, 'n=2', { prompt: FAKE_PROMPT_TOKENS, completion: 2 * FAKE_COMPLETION_TOKENS });
    });

    it('response_format json_object and logprobs are accepted (passed through)', async () => {
      const r1 = await client.chat.completions.create({
        model: 'gpt-fake',
        messages: [{ role: 'user', content: 'Reply in JSON.' }],
        response_format: { type: 'json_object' },
      });
      assert.equal(r1.choices.length, 1);
      assert.equal(typeof r1.choices[0].message.content, 'string');

      const r2 = await client.chat.completions.create({
        model: 'gpt-fake',
        messages: USER_MSG,
        logprobs: true,
        top_logprobs: 2,
      });
      assert.equal(r2.choices.length, 1);
      assert.equal(typeof r2.choices[0].message.content, 'string');
    });

    it('unknown body fields pass through (fake-provider extras are accepted)', async () => {
      const r = await client.chat.completions.create({
        model: 'gpt-fake',
        messages: USER_MSG,
        some_future_openai_param: { nested: [1, 2, 3] },
      });
      assert.equal(r.choices[0].message.content, FAKE_TEXT);
    });
  });

  describe('completions', () => {
    it('completions.create returns text', async () => {
      const r = await client.completions.create({ model: 'gpt-fake', prompt: 'Say hello.', max_tokens: 16 });
      assert.equal(r.object, 'text_completion');
      assert.equal(r.choices.length, 1);
      assert.equal(r.choices[0].text, FAKE_TEXT);
      assertUsage(r.usage, 'completions');
    });
  });

  describe('embeddings', () => {
    it('string input, encoding_format float', async () => {
      const r = await client.embeddings.create({
        model: 'text-embedding-fake',
        input: 'The quick brown fox',
        encoding_format: 'float',
      });
      assert.equal(r.object, 'list');
      assert.equal(r.data.length, 1);
      assert.equal(r.data[0].object, 'embedding');
      assert.equal(r.data[0].index, 0);
      assert.ok(Array.isArray(r.data[0].embedding), 'float embedding is a JSON array');
      assert.equal(r.data[0].embedding.length, FAKE_EMBEDDING_DIMS);
      assert.ok(r.data[0].embedding.every(Number.isFinite));
      assert.ok(r.usage && r.usage.prompt_tokens > 0, `usage: ${JSON.stringify(r.usage)}`);
      assert.equal(r.usage.total_tokens, r.usage.prompt_tokens);
    });

    it('array input, encoding_format float: one vector per input', async () => {
      const inputs = ['alpha', 'beta', 'gamma'];
      const r = await client.embeddings.create({ model: 'text-embedding-fake', input: inputs, encoding_format: 'float' });
      assert.equal(r.data.length, inputs.length);
      assert.deepEqual(
        r.data.map((d) => d.index),
        [0, 1, 2],
      );
      for (const d of r.data) {
        assert.ok(Array.isArray(d.embedding));
        assert.equal(d.embedding.length, FAKE_EMBEDDING_DIMS);
        assert.ok(d.embedding.every(Number.isFinite));
      }
      assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding, 'different inputs, different vectors');
    });

    it('SDK default (base64 on the wire, decoded by the SDK) equals the float answer', async () => {
      const inputs = ['alpha', 'beta'];
      const [b64, flt] = await Promise.all([
        client.embeddings.create({ model: 'text-embedding-fake', input: inputs }),
        client.embeddings.create({ model: 'text-embedding-fake', input: inputs, encoding_format: 'float' }),
      ]);
      assert.equal(b64.data.length, inputs.length);
      for (let i = 0; i < inputs.length; i++) {
        assert.ok(Array.isArray(b64.data[i].embedding), 'decoded to an array');
        // The fake's values are multiples of 1/1024: float32 and JSON agree exactly.
        assert.deepEqual(b64.data[i].embedding, flt.data[i].embedding, `vector ${i}`);
      }
    });

    it('dimensions is passed through', async () => {
      const r = await client.embeddings.create({
        model: 'text-embedding-fake',
        input: 'x',
        encoding_format: 'float',
        dimensions: 16,
      });
      assert.equal(r.data[0].embedding.length, 16);
    });
  });

  describe('models', () => {
    it('models.list includes every group once', async () => {
      const ids = [];
      for await (const m of client.models.list()) {
        assert.equal(m.object, 'model');
        ids.push(m.id);
      }
      for (const want of ['gpt-fake', 'text-embedding-fake', 'demo']) {
        assert.ok(ids.includes(want), `${want} in ${JSON.stringify(ids)}`);
      }
      assert.equal(ids.filter((id) => id === 'gpt-fake').length, 1, `group listed once: ${JSON.stringify(ids)}`);
    });

    it('models.retrieve returns the group', async () => {
      const m = await client.models.retrieve('gpt-fake');
      assert.equal(m.id, 'gpt-fake');
      assert.equal(m.object, 'model');
    });
  });

  describe('mock_response (demo group)', () => {
    it('non-stream', async () => {
      const r = await client.chat.completions.create({ model: 'demo', messages: USER_MSG });
      assert.equal(r.choices[0].message.content, DEMO_TEXT);
      assert.equal(r.choices[0].finish_reason, 'stop');
    });

    it('stream', async () => {
      const stream = await client.chat.completions.create({ model: 'demo', messages: USER_MSG, stream: true });
      const { text, chunks } = await collectChat(stream);
      assert.equal(text, DEMO_TEXT);
      for (const c of chunks) assert.ok(c.choices.length > 0, 'no usage-only chunk without include_usage');
    });
  });

  describe('errors', () => {
    it('bad key -> AuthenticationError (401)', async () => {
      const bad = h.client({ apiKey: 'sk-not-the-master-key' });
      await assert.rejects(
        bad.chat.completions.create({ model: 'gpt-fake', messages: USER_MSG }),
        (err) => {
          assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
          assert.equal(err.status, 401);
          assert.equal(typeof err.code, 'string', 'error.code is a string');
          return true;
        },
      );
    });

    it('unknown model -> BadRequestError (400) naming the model', async () => {
      await assert.rejects(
        client.chat.completions.create({ model: 'no-such-model-e2e', messages: USER_MSG }),
        (err) => {
          assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
          assert.equal(err.status, 400);
          assert.match(err.message, /no-such-model-e2e/);
          assert.equal(err.type, 'invalid_request_error');
          return true;
        },
      );
    });
  });
});

// ---------------------------------------------------------------------------
// Upstream fault injection: each on a fresh gateway, since failures feed the
// router's cooldowns and would otherwise leak into other tests.

describe('upstream errors map to OpenAI SDK error classes', { timeout: 120_000 }, () => {
  const cases = [
    { status: 429, cls: 'RateLimitError', check: (err) => assert.equal(err.status, 429) },
    {
      status: 500,
      cls: 'InternalServerError',
      check: (err) => assert.ok(err.status >= 500 && err.status <= 599, `status ${err.status}`),
    },
  ];
  for (const c of cases) {
    it(`upstream ${c.status} -> OpenAI.${c.cls}`, { timeout: 60_000 }, async () => {
      await withHarness(`fault-${c.status}`, async (h) => {
        const client = h.client();
        await assert.rejects(
          client.chat.completions.create({
            model: 'gpt-fake',
            messages: USER_MSG,
            fake: { status: c.status },
          }),
          (err) => {
            assert.ok(err instanceof OpenAI[c.cls], `got ${err?.constructor?.name} (${err?.status}): ${err?.message}`);
            c.check(err);
            return true;
          },
        );
      });
    });
  }
});

// ---------------------------------------------------------------------------
// Graceful shutdown: SIGTERM mid-stream drains the stream, then exits 0.

describe('graceful shutdown', { timeout: 60_000 }, () => {
  it('SIGTERM during a stream: the stream completes and the gateway exits 0', async () => {
    await withHarness('shutdown', async (h) => {
      const client = h.client();
      const stream = await client.chat.completions.create({
        model: 'gpt-fake',
        messages: USER_MSG,
        stream: true,
        fake: { chunks: 5, delay_chunk_ms: 200 },
      });

      let text = '';
      let finish = null;
      let chunksAfterSignal = 0;
      let signalled = false;
      try {
        for await (const chunk of stream) {
          const choice = chunk.choices?.[0];
          if (typeof choice?.delta?.content === 'string') text += choice.delta.content;
          if (choice?.finish_reason) finish = choice.finish_reason;
          if (signalled) chunksAfterSignal++;
          if (!signalled) {
            h.signalGateway('SIGTERM');
            signalled = true;
          }
        }
      } catch (err) {
        throw new Error(
          `stream broke after SIGTERM (${chunksAfterSignal} chunks after the signal, text so far ` +
            `${JSON.stringify(text)}): ${err?.constructor?.name}: ${err?.message}\n${h.describe()}`,
          { cause: err },
        );
      }

      assert.ok(chunksAfterSignal > 0, 'chunks kept arriving after SIGTERM (signal really was mid-stream)');
      assert.equal(text, FAKE_TEXT, 'full text despite SIGTERM');
      assert.equal(finish, 'stop');

      let timer;
      const exit = await Promise.race([
        h.gatewayExited(),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve('timeout'), 15_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.notEqual(exit, 'timeout', `gateway did not exit within 15 s of SIGTERM\n${h.describe()}`);
      assert.equal(exit.code, 0, `gateway exit code\n${h.describe()}`);
    });
  });
});
