// The console's charts and the controls beside them, as browser stories (see stories.mjs, which runs them,
// and tests/charts.rs, which drives them): charts read by their accessible names in both languages, a
// canary started and ended from a webhook's page, a key revoked on the operator's keys page.

import assert from "node:assert/strict";

export function chartStories({ page, env, base, shots, results, signIn, text }) {
  const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  return {
    // The charts of a webhook and of the deliveries, read by their accessible names (what a screen reader
    // says), in Spanish then in English, with the deliveries list's counts beside them.
    async charts() {
      const label = (selector) => page.locator(selector).first().getAttribute("aria-label");
      const read = async () => ({
        deliveries: await label("#chart-deliveries"),
        latency: await label("#chart-latency"),
        plugin_errors: await label("#chart-plugin-errors"),
        pacing: await page.locator("figure.pacing svg").evaluateAll((svgs) => svgs.map((svg) => svg.getAttribute("aria-label"))),
      });
      const webhook = `${base}/console/t/acme/subscriptions/${env.SUBSCRIPTION}`;
      await page.goto(env.PORTAL_LINK);
      for (const lang of ["es", "en"]) {
        if (lang === "en") {
          await page.click('.lang-switch a[lang="en"]');
          await page.waitForLoadState();
        }
        results[lang] = {};
        await page.goto(webhook);
        await page.waitForSelector("#charts");
        assert.equal(await page.getAttribute("html", "lang"), lang);
        results[lang].subscription = await read();
        // Every bar says its own numbers too.
        assert.ok((await page.locator("#chart-deliveries g.bucket title").count()) === 24);
        await page.locator("#charts").screenshot({ path: `${shots}/charts-subscription-${lang}.png` });
        await page.goto(`${base}/console/t/acme/deliveries`);
        await page.waitForSelector("#charts");
        results[lang].deliveries = await read();
        const rows = (status) => page.locator(`#deliveries tr[data-status="${status}"]`).count();
        results[lang].list = { succeeded: await rows("succeeded"), failed: await rows("failed"), plugin_error: await rows("plugin_error") };
        await shot(`charts-deliveries-${lang}`);
        // The last hour, by 5 minutes.
        await page.click(`nav.window-switch a[href$="window=1h"]`);
        await page.waitForSelector('#charts[data-window="1h"]');
        results[lang].hour = await read();
        assert.equal(await page.locator("#chart-deliveries g.bucket").count(), 12);
        await page.locator("#charts").screenshot({ path: `${shots}/charts-hour-${lang}.png` });
      }
    },

    // The operator's overview draws the whole service's deliveries, in English then in Spanish.
    async chartsOverview() {
      await signIn(env.OPERATOR_TOKEN);
      for (const lang of ["en", "es"]) {
        if (lang === "es") {
          await page.click('.lang-switch a[lang="es"]');
          await page.waitForLoadState();
        }
        await page.waitForSelector("#charts");
        results[lang] = { deliveries: await page.getAttribute("#chart-deliveries", "aria-label") };
        await shot(`charts-overview-${lang}`);
      }
    },

    // A canary from the webhook's advanced tools: started with a version and a share (END empty), or the
    // running one ended with its button (END=rollback or promote).
    async canary() {
      await page.goto(env.PORTAL_LINK);
      await page.goto(`${base}/console/t/acme/subscriptions/${env.SUBSCRIPTION}`);
      await page.waitForSelector("body[data-ready=true]");
      await page.click("#advanced-tools > summary");
      if (!env.END) {
        await page.selectOption("#canary-version", "2");
        await page.fill("#canary-percent", "25");
        await page.click("#canary-form button[type=submit]");
        await page.waitForSelector("#canary-running", { state: "attached" });
        await page.click("#advanced-tools > summary");
        await page.locator("#canary").screenshot({ path: `${shots}/canary-running-es.png` });
        results.rollout = await page.getAttribute("#canary-running", "data-rollout");
      } else {
        await page.locator("#canary").screenshot({ path: `${shots}/canary-before-end-en.png` });
        await page.click(`[data-rollout-end="${env.END}"]`);
        await page.waitForSelector("#canary-form", { state: "attached" });
        await page.click("#advanced-tools > summary");
        await page.locator("#advanced-tools").screenshot({ path: `${shots}/canary-form-en.png` });
      }
    },

    // The operator revokes one of a tenant's keys from its keys page, after saying yes.
    async revokeKey() {
      await signIn(env.OPERATOR_TOKEN);
      await page.goto(`${base}/console/operator/tenants`);
      await page.click('tr[data-tenant="acme"] a[href$="/acme/keys"]');
      await page.waitForSelector(`tr[data-key="${env.KEY_ID}"]`);
      await shot("operator-keys-en");
      // Saying no keeps it.
      page.once("dialog", (dialog) => dialog.dismiss());
      await page.click(`[data-revoke-key="${env.KEY_ID}"]`);
      assert.equal(await page.locator(`tr[data-key="${env.KEY_ID}"]`).count(), 1);
      page.once("dialog", (dialog) => { assert.match(dialog.message(), /Revoke this key/); dialog.accept(); });
      await page.click(`[data-revoke-key="${env.KEY_ID}"]`);
      await page.waitForSelector("#keys-status:not(:empty)");
      assert.equal(await page.locator(`tr[data-key="${env.KEY_ID}"]`).count(), 0);
      await page.click('.lang-switch a[lang="es"]');
      await page.waitForSelector("#keys");
      assert.match(await text("h1"), /Claves de API de acme/);
      assert.equal(await page.locator(`tr[data-key="${env.KEY_ID}"]`).count(), 0, "gone for good");
      await shot("operator-keys-es");
    },
  };
}
