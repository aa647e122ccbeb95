// SPDX-License-Identifier: MIT
// hc1-serve through the official OpenAI client library (npm "openai"), as an
// application would use it.  HC1_SERVE_URL names the server, HC1_SERVE_MODEL
// the model on its card.  Run: node --test tests/serve/openai.test.mjs
import OpenAI from "openai";
import test from "node:test";
import assert from "node:assert/strict";

const baseURL = (process.env.HC1_SERVE_URL ?? "http://127.0.0.1:8080") + "/v1";
const model = process.env.HC1_SERVE_MODEL ?? "stories260K";
// No retries: a 503 must reach the test, not be retried away.
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });

test("models lists the card's model with its weights' SHA-256", async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m);
  const m = models.find((x) => x.id === model);
  assert.ok(m, `no ${model} in ${JSON.stringify(models)}`);
  assert.match(m.sha256, /^[0-9a-f]{64}$/);
  assert.ok(m.context_length > 0);
});

test("completion, not streamed, greedy: deterministic, with usage", async () => {
  const ask = () => client.completions.create({ model, prompt: "Once upon a time", max_tokens: 24, temperature: 0 });
  const a = await ask();
  const b = await ask();
  assert.equal(a.object, "text_completion");
  assert.ok(a.choices[0].text.length > 0);
  assert.equal(a.choices[0].text, b.choices[0].text);
  assert.equal(a.choices[0].finish_reason, "length");
  assert.equal(a.usage.completion_tokens, 24);
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + 24);
});

test("completion, streamed: the chunks add up to the whole answer", async () => {
  const whole = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 40, temperature: 0 });
  const stream = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 40, temperature: 0, stream: true });
  let text = "", chunks = 0, finish = null;
  for await (const c of stream) {
    chunks++;
    text += c.choices[0].text;
    finish = c.choices[0].finish_reason ?? finish;
  }
  assert.ok(chunks >= 2, `only ${chunks} chunk(s)`);
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, "length");
});

test("chat, not streamed and streamed, sampled with a seed", async () => {
  const req = { model, messages: [{ role: "system", content: "You tell stories." }, { role: "user", content: "Tell me about a cat." }], max_tokens: 32, seed: 7 };
  const a = await client.chat.completions.create(req);
  assert.equal(a.object, "chat.completion");
  assert.equal(a.choices[0].message.role, "assistant");
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = "", usage = null;
  for await (const c of stream) {
    if (c.choices.length) text += c.choices[0].delta.content ?? "";
    if (c.usage) usage = c.usage;
  }
  // Same seed, same prompt: the same tokens, streamed or not.
  assert.equal(text, a.choices[0].message.content);
  assert.deepEqual(usage, a.usage);
});

test("stop strings cut the answer before them, across tokens", async () => {
  const full = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 40, temperature: 0 });
  const text = full.choices[0].text;
  // A stop string from the middle of the answer, spanning several tokens.
  const stop = text.slice(12, 20);
  const cut = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 40, temperature: 0, stop: [stop] });
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, "stop");
});

test("a field the card cannot honour is a BadRequestError naming it", async () => {
  await assert.rejects(
    client.completions.create({ model, prompt: "Hi", n: 2 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "n" && /'n'/.test(e.message),
  );
  await assert.rejects(
    client.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }], tools: [{ type: "function", function: { name: "f" } }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === "tools",
  );
  await assert.rejects(
    client.completions.create({ model: "no-such-model", prompt: "Hi" }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found",
  );
  await assert.rejects(
    client.completions.create({ model, prompt: "Hi ".repeat(5000), max_tokens: 1 }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === "context_length_exceeded" && /context is \d+ tokens/.test(e.message),
  );
});
