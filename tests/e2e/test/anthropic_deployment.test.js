// End-to-end: the official `openai` npm SDK against an Anthropic-format deployment
// (`anthropic/...` on the fake provider's Messages API): the gateway translates the request to
// Anthropic's format and the answer, stream and tool calls back to OpenAI's.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { FAKE_COMPLETION_TOKENS, FAKE_PROMPT_TOKENS, FAKE_TEXT, startHarness } from '../lib/harness.js';

const MODEL = 'claude-fake';
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city.',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

describe('openai SDK against an anthropic/ deployment', { timeout: 120_000 }, () => {
  let h;
  let client;

  before(async () => {
    h = await startHarness({ name: 'anthropic' });
    client = h.client();
  });

  after(async () => {
    if (h) await h.stop();
  });

  it('chat.completions.create answers in OpenAI shape', async () => {
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello.' },
      ],
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, FAKE_TEXT);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.prompt_tokens, FAKE_PROMPT_TOKENS);
    assert.equal(r.usage.completion_tokens, FAKE_COMPLETION_TOKENS);
  });

  it('streams chunk by chunk with usage', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say hello.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    const finish = [];
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      assert.equal(chunk.object, 'chat.completion.chunk');
      for (const c of chunk.choices) {
        if (typeof c.delta?.content === 'string') text += c.delta.content;
        if (c.finish_reason) finish.push(c.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks >= 3, `expected several chunks, got ${chunks}`);
    assert.equal(text, FAKE_TEXT);
    assert.deepEqual(finish, ['stop']);
    assert.equal(usage?.prompt_tokens, FAKE_PROMPT_TOKENS);
    assert.equal(usage?.completion_tokens, FAKE_COMPLETION_TOKENS);
  });

  it('tool calls come back as OpenAI tool_calls, plain and streamed', async () => {
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER_TOOL],
    });
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    const call = r.choices[0].message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris' });

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER_TOOL],
      stream: true,
    });
    let name = '';
    let args = '';
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        for (const tc of c.delta?.tool_calls ?? []) {
          if (tc.function?.name) name += tc.function.name;
          if (tc.function?.arguments) args += tc.function.arguments;
        }
      }
    }
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(args), { location: 'Paris' });

    // The tool's answer goes back as a tool_result; the model then answers in text.
    const final = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '18 C and sunny' },
      ],
      tools: [WEATHER_TOOL],
    });
    assert.equal(final.choices[0].message.content, FAKE_TEXT);
  });
});
