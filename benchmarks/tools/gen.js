'use strict';
// Writes the fixed payloads for one benchmark run and renders the configs from their templates.
//
// Inputs (environment): RUN (run directory), BENCH_DIR (benchmarks/), MOCK_PORT, PROXY_PORT,
// MASTER_KEY, MODEL, STREAM_MODEL, STREAM_CHUNKS, LARGE_KB, NGINX_KEEPALIVE, NGINX_USER_DIRECTIVE;
// optional TOLLGATE_TEMPLATE (config template, default config/tollgate.yaml.in) and REDIS_PORT.
// Outputs in RUN/: resp.json and stream.sse (exactly what the mock sends), req_small.json,
// req_large.json, req_stream.json (request bodies), mock.conf, proxy.conf, tollgate.yaml.
const fs = require('node:fs');
const path = require('node:path');

function need(name) {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`gen.js: environment variable ${name} is not set`);
  return v;
}

const RUN = need('RUN');
const BENCH = need('BENCH_DIR');
const streamChunks = Number(need('STREAM_CHUNKS'));
const largeKB = Number(need('LARGE_KB'));
if (!(streamChunks >= 2)) throw new Error('STREAM_CHUNKS must be >= 2');

const write = (name, data) => fs.writeFileSync(path.join(RUN, name), data);

// ---- what the mock provider answers -------------------------------------------------------------
const created = 1700000000;
const resp = JSON.stringify({
  id: 'chatcmpl-bench0001',
  object: 'chat.completion',
  created,
  model: 'bench-model',
  choices: [{
    index: 0,
    message: { role: 'assistant', content: 'Hello! This is the fixed benchmark reply of the mock provider.' },
    logprobs: null,
    finish_reason: 'stop',
  }],
  usage: { prompt_tokens: 14, completion_tokens: 13, total_tokens: 27 },
  system_fingerprint: 'fp_bench',
});

// SSE: STREAM_CHUNKS chat.completion.chunk events (the first carries the role, the last the
// finish_reason), then the usage chunk (choices: [], as with stream_options.include_usage), then [DONE].
const events = [];
const chunk = (delta, finish) => JSON.stringify({
  id: 'chatcmpl-bench0002', object: 'chat.completion.chunk', created, model: 'bench-model',
  choices: [{ index: 0, delta, finish_reason: finish }],
});
for (let i = 0; i < streamChunks; i++) {
  if (i === 0) events.push(chunk({ role: 'assistant', content: '' }, null));
  else if (i === streamChunks - 1) events.push(chunk({}, 'stop'));
  else events.push(chunk({ content: ` tok${String(i).padStart(2, '0')}` }, null));
}
events.push(JSON.stringify({
  id: 'chatcmpl-bench0002', object: 'chat.completion.chunk', created, model: 'bench-model',
  choices: [], usage: { prompt_tokens: 14, completion_tokens: streamChunks - 2, total_tokens: 12 + streamChunks },
}));
events.push('[DONE]');
const sse = events.map((e) => `data: ${e}\n\n`).join('');

// ---- request bodies -----------------------------------------------------------------------------
const messages = [{ role: 'user', content: 'Say hello in one short sentence.' }];
const small = JSON.stringify({ model: need('MODEL'), messages, max_tokens: 32 });
const stream = JSON.stringify({
  model: need('STREAM_MODEL'), messages, max_tokens: 32, stream: true,
  stream_options: { include_usage: true },
});

// ~LARGE_KB KiB prompt: deterministic prose-like text with newlines, quotes and some non-ASCII,
// so the gateway's JSON handling sees escapes and multi-byte UTF-8 as real prompts have.
const vocab = ('the a of to and in that is for on with as by this be are from at or an it not ' +
  'model request gateway latency token budget stream provider router config "quoted" naïve café ' +
  'résumé 日本語 données — ±1.5% tab\there').split(' ');
let seed = 12345;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
const head = { model: need('MODEL'), messages: [
  { role: 'system', content: 'You are a concise assistant. Summarise the document below.' },
  { role: 'user', content: '' }], max_tokens: 32 };
const target = largeKB * 1024;
const words = [];
let size = Buffer.byteLength(JSON.stringify(head));
while (size < target) {
  let w = vocab[rnd() % vocab.length];
  if (rnd() % 17 === 0) w += '.\n';
  words.push(w);
  size += Buffer.byteLength(JSON.stringify(w)) - 2 + 1;
}
head.messages[1].content = words.join(' ');
const large = JSON.stringify(head);

write('resp.json', resp);
write('stream.sse', sse);
write('req_small.json', small);
write('req_stream.json', stream);
write('req_large.json', large);

// ---- templates ----------------------------------------------------------------------------------
// nginx `return 200 '...'` text: escape backslash and single quote, encode newlines as \n (nginx
// unescapes \n, \t, \r, \\, \' in quoted strings). `$` would start a variable; payloads have none.
function nginxQuote(s) {
  if (s.includes('$')) throw new Error('payload contains "$", which nginx would expand');
  return s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}
const respQ = nginxQuote(resp);
const sseQ = nginxQuote(sse);
// nginx reads its config through a 4096-byte buffer and one token must fit in it.
for (const [name, q] of [['response', respQ], ['stream', sseQ]]) {
  if (q.length > 4000) {
    throw new Error(`mock ${name} is ${q.length} bytes once quoted; nginx allows one config token ` +
      'of at most ~4 KB: lower STREAM_CHUNKS');
  }
}

const vars = {
  RUN,
  MOCK_PORT: need('MOCK_PORT'),
  PROXY_PORT: need('PROXY_PORT'),
  NGINX_KEEPALIVE: need('NGINX_KEEPALIVE'),
  NGINX_USER_DIRECTIVE: process.env.NGINX_USER_DIRECTIVE || '',
  MOCK_RESPONSE: respQ,
  MOCK_STREAM: sseQ,
  MASTER_KEY: need('MASTER_KEY'),
  MODEL: need('MODEL'),
  STREAM_MODEL: need('STREAM_MODEL'),
  ACCESS_LOG: path.join(RUN, 'tollgate-access.log'),
  REDIS_PORT: process.env.REDIS_PORT || '',
};
function render(template, out) {
  let text = fs.readFileSync(path.join(BENCH, template), 'utf8');
  text = text.replace(/@([A-Z_]+)@/g, (m, k) => {
    if (!(k in vars)) throw new Error(`${template}: unknown placeholder ${m}`);
    return vars[k];
  });
  write(out, text);
}
render('nginx/mock.conf.in', 'mock.conf');
render('nginx/proxy.conf.in', 'proxy.conf');
render(process.env.TOLLGATE_TEMPLATE || 'config/tollgate.yaml.in', 'tollgate.yaml');
