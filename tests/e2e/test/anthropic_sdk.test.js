// End-to-end: the official `@anthropic-ai/sdk` npm package against the gateway's Anthropic front
// end (POST /v1/messages). Routed to an OpenAI-format deployment (`gpt-fake`), the gateway
// translates the request to OpenAI's format and the answer, stream and tool use back to
// Anthropic's; to an Anthropic deployment (`claude-fake`) the request and answer pass through.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import Anthropic from '@anthropic-ai/sdk';

import { FAKE_COMPLETION_TOKENS, FAKE_PROMPT_TOKENS, FAKE_TEXT, MASTER_KEY, startHarness } from '../lib/harness.js';

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather for a city.',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};

describe('@anthropic-ai/sdk against /v1/messages', { timeout: 120_000 }, () => {
  let h;
  let client;

  before(async () => {
    h = await startHarness({ name: 'anthropic-sdk' });
    // The SDK appends /v1/messages to its base URL.
    client = new Anthropic({ baseURL: `http://127.0.0.1:${h.port}`, apiKey: MASTER_KEY, maxRetries: 0, timeout: 30_000 });
  });

  after(async () => {
    if (h) await h.stop();
  });

  it('messages.create on an OpenAI-format deployment answers as an Anthropic message', async () => {
    const m = await client.messages.create({
      model: 'gpt-fake',
      max_tokens: 100,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.match(m.id, /^msg_/);
    assert.equal(m.content.length, 1);
    assert.equal(m.content[0].type, 'text');
    assert.equal(m.content[0].text, FAKE_TEXT);
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.usage.input_tokens, FAKE_PROMPT_TOKENS);
    assert.equal(m.usage.output_tokens, FAKE_COMPLETION_TOKENS);
  });

  it('messages.stream delivers text events and a final message with usage', async () => {
    const stream = client.messages.stream({
      model: 'gpt-fake',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    let text = '';
    const types = [];
    stream.on('text', (delta) => {
      text += delta;
    });
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalMessage();
    assert.equal(text, FAKE_TEXT);
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
    assert.ok(types.includes('content_block_delta'));
    assert.equal(final.content[0].text, FAKE_TEXT);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, FAKE_COMPLETION_TOKENS);
  });

  it('tool use comes back as tool_use blocks, plain and streamed, and a tool_result round-trips', async () => {
    const m = await client.messages.create({
      model: 'gpt-fake',
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    assert.equal(m.stop_reason, 'tool_use');
    const use = m.content.find((b) => b.type === 'tool_use');
    assert.ok(use, JSON.stringify(m.content));
    assert.equal(use.name, 'get_weather');
    assert.equal(typeof use.input, 'object');

    const stream = client.messages.stream({
      model: 'gpt-fake',
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const streamedUse = final.content.find((b) => b.type === 'tool_use');
    assert.ok(streamedUse, JSON.stringify(final.content));
    assert.equal(streamedUse.name, 'get_weather');
    assert.equal(typeof streamedUse.input, 'object', 'the SDK parsed the streamed input_json_delta pieces');

    const answer = await client.messages.create({
      model: 'gpt-fake',
      max_tokens: 100,
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: m.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18 C and sunny' }] },
      ],
    });
    assert.equal(answer.type, 'message');
    assert.ok(answer.content.length > 0);
  });

  it('an Anthropic deployment answers through the passthrough, plain and streamed', async () => {
    const m = await client.messages.create({
      model: 'claude-fake',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    assert.equal(m.content[0].text, FAKE_TEXT);
    assert.equal(m.model, 'claude-3-5-haiku-20241022', 'the vendor answer, as Anthropic sent it');
    assert.equal(m.usage.input_tokens, FAKE_PROMPT_TOKENS);

    const stream = client.messages.stream({
      model: 'claude-fake',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.content[0].text, FAKE_TEXT);
    assert.equal(final.usage.output_tokens, FAKE_COMPLETION_TOKENS);
  });

  it('messages.countTokens answers an estimate', async () => {
    const count = await client.messages.countTokens({
      model: 'gpt-fake',
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    assert.ok(count.input_tokens > 0);
  });

  it('errors arrive as the SDK error classes', async () => {
    await assert.rejects(
      client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof Anthropic.BadRequestError && err.error?.error?.type === 'invalid_request_error',
    );
    const wrongKey = new Anthropic({ baseURL: `http://127.0.0.1:${h.port}`, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(
      wrongKey.messages.create({ model: 'gpt-fake', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof Anthropic.AuthenticationError,
    );
  });
});
