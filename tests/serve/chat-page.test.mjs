// SPDX-License-Identifier: MIT
// The chat page in a real browser: Debian's Chromium, headless, driven by
// puppeteer-core.  Type a prompt, see the answer stream in and the live
// figures (time to first token, tokens/s) appear.  The screenshot is kept
// as a test artefact (HC1_SCREENSHOT).  Run by tests/serve/run.py.
import puppeteer from "puppeteer-core";
import test from "node:test";
import assert from "node:assert/strict";

const url = process.env.HC1_SERVE_URL ?? "http://127.0.0.1:8080";
const screenshot = process.env.HC1_SCREENSHOT ?? "serve-chat.png";

test("the chat page streams an answer with live figures", async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.HC1_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    const external = [];
    page.on("request", (r) => { if (!r.url().startsWith(url)) external.push(r.url()); });
    await page.goto(url + "/", { waitUntil: "networkidle0" });
    // The model list comes from /v1/models.
    await page.waitForFunction(() => document.querySelector("#model").options.length > 0);
    // Watch the answer grow while it streams: more than one distinct length.
    await page.evaluate(() => {
      window.lengths = new Set();
      new MutationObserver(() => {
        const a = document.querySelectorAll(".assistant");
        if (a.length) window.lengths.add(a[a.length - 1].textContent.length);
      }).observe(document.querySelector("#log"), { childList: true, subtree: true, characterData: true });
    });
    await page.type("#prompt", "Once upon a time");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.body.dataset.done, { timeout: 60000 });
    const r = await page.evaluate(() => ({
      done: document.body.dataset.done,
      answer: document.querySelector(".assistant").textContent,
      ttft: document.querySelector("#ttft").textContent,
      tokens: Number(document.querySelector("#tokens").textContent),
      rate: document.querySelector("#rate").textContent,
      updates: window.lengths.size,
    }));
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log("chat page:", JSON.stringify(r));
    assert.equal(r.done, "1");
    assert.ok(r.answer.startsWith("Once upon a time") && r.answer.length > "Once upon a time".length + 20, r.answer);
    assert.match(r.ttft, /^\d+(\.\d+)? ms$/);
    assert.ok(r.tokens > 10, `tokens ${r.tokens}`);
    assert.match(r.rate, /^[\d,]+$/);
    assert.ok(r.updates >= 2, `the answer appeared in ${r.updates} update(s), not streamed`);
    assert.deepEqual(external, [], "the page loaded something from elsewhere");
  } finally {
    await browser.close();
  }
});
