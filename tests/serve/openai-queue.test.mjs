// SPDX-License-Identifier: MIT
// While tests/serve/guest-serve.sh holds the card's one context and fills
// the queue: the OpenAI library sees a 503 as an InternalServerError with
// Retry-After and the error object's code.  Run by tests/serve/run.py.
import OpenAI from "openai";
import test from "node:test";
import assert from "node:assert/strict";

const baseURL = (process.env.HC1_SERVE_URL ?? "http://127.0.0.1:8080") + "/v1";
const model = process.env.HC1_SERVE_MODEL ?? "stories260K";
// No retries: the 503 must reach the test, not be retried away.
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });

test("a full queue is a 503 InternalServerError with Retry-After", async () => {
  const err = await client.completions.create({ model, prompt: "Hi", max_tokens: 1 }).then(() => null, (e) => e);
  assert.ok(err instanceof OpenAI.InternalServerError, String(err));
  assert.equal(err.status, 503);
  assert.equal(err.headers["retry-after"], "1");
  assert.equal(err.code, "queue_full");
});
