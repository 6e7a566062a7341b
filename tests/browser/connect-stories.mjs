// The portal's Connect stories (issue 22): a customer connects HubSpot with a button at the stand-in OAuth
// provider (`gancho stand-in oauth`, run in-process by tests/oauth_connect.rs), a replayed or foreign
// `state` is refused, a broken connection is reconnected, and a Google service account is added from its
// key file. Spread into the stories of stories.mjs.

import assert from "node:assert/strict";
import fs from "node:fs";

const WORDS = {
  es: {
    code: "es", connectHubspot: "Conectar HubSpot", consent: /pide acceso/, connected: /Conectada/,
    unknown: /ya se usó/, denied: /no permitió/, otherSession: /otra sesión/, reconnect: "Reconectar",
    tooLarge: /demasiado grande/, noPrivateKey: /private_key/,
  },
  en: {
    code: "en", connectHubspot: "Connect HubSpot", consent: /asks for access/, connected: /Connected/,
    unknown: /already used/, denied: /not allowed/, otherSession: /another session/, reconnect: "Reconnect",
    tooLarge: /too large/, noPrivateKey: /private_key/,
  },
};

export function connectStories({ browser, page, base, env, shot, text, locale, results }) {
  const w = WORDS[env.WORDS || "en"];
  const connectionsPage = async (onPage = page) => {
    await onPage.goto(`${base}/console/t/${env.TENANT}/connections`);
    await onPage.waitForLoadState();
  };
  const row = (name) => page.locator("#connections tr", { hasText: name });
  // At the stand-in: the consent page, then back to the portal's connections page.
  const consent = async (screenshot) => {
    await page.waitForURL(/\/authorize\?/);
    assert.ok(page.url().startsWith(env.STAND_IN_URL), page.url());
    const asked = new URL(page.url()).searchParams;
    assert.equal(asked.get("code_challenge_method"), "S256");
    assert.ok(asked.get("code_challenge") && asked.get("state"));
    assert.doesNotMatch(page.url(), /stand-in-secret/, "the client secret never reaches the browser");
    assert.match(await page.locator("body").innerText(), w.consent);
    if (screenshot) await shot(screenshot);
    await page.click("#allow");
    await page.waitForURL(/\/connections\?connected=hubspot$/);
    assert.match(await text("#connected"), w.connected);
    return asked.get("state");
  };
  const refusedAt = async (state, words) => {
    const answer = await page.goto(`${base}/console/connect/callback?code=not-mine&state=${encodeURIComponent(state)}`);
    assert.equal(answer.status(), 400);
    assert.match(await text(".error-message"), words);
  };

  return {
    async oauthConnect() {
      await page.goto(env.PORTAL_LINK);
      await connectionsPage();
      const button = page.locator('[data-connect="hubspot"]');
      assert.equal((await button.innerText()).trim(), w.connectHubspot);
      await shot(`connections-connect-${w.code}`);
      // She declines at the provider first: told so, nothing saved.
      await button.click();
      await page.waitForURL(/\/authorize\?/);
      await page.click("#deny");
      await page.waitForURL(/\/console\/connect\/callback\?error=access_denied/);
      assert.match(await text(".error-message"), w.denied);
      await connectionsPage();
      assert.equal(await page.locator("#connections").count(), 0);
      await button.click();
      const state = await consent(`stand-in-consent-${w.code}`);
      assert.match(await row("hubspot").innerText(), /\bok\b/);
      assert.match(await row("hubspot").innerText(), /oauth2_refresh_token/);
      await shot(`connections-connected-${w.code}`);

      // The provider's redirect, replayed: its state was used.
      await refusedAt(state, w.unknown);
      // Another session's sign-in (another browser), finished in hers: refused.
      const other = await browser.newContext({ locale });
      const otherPage = await other.newPage();
      await otherPage.goto(env.OTHER_PORTAL_LINK);
      await connectionsPage(otherPage);
      await otherPage.click('[data-connect="hubspot"]');
      await otherPage.waitForURL(/\/authorize\?/);
      const foreign = new URL(otherPage.url()).searchParams.get("state");
      await other.close();
      await refusedAt(foreign, w.otherSession);
      results.state = state;
    },

    async oauthReconnect() {
      await page.goto(env.PORTAL_LINK);
      await connectionsPage();
      assert.match(await row("hubspot").innerText(), /broken/);
      const button = page.locator('[data-reconnect="hubspot"]');
      assert.equal((await button.innerText()).trim(), w.reconnect);
      await shot(`connections-reconnect-${w.code}`);
      await button.click();
      await consent(null);
      assert.match(await row("hubspot").innerText(), /\bok\b/);
      assert.equal(await page.locator('[data-reconnect="hubspot"]').count(), 0);
    },

    async serviceAccount() {
      await page.goto(env.PORTAL_LINK);
      await connectionsPage();
      const submit = () => page.click("#sa-form button[type=submit]");
      await page.fill("#sa-name", "google-sheets");
      await page.setInputFiles("#sa-file", { name: "huge.json", mimeType: "application/json", buffer: Buffer.alloc(20 * 1024, " ") });
      await submit();
      await page.locator("#sa-error", { hasText: w.tooLarge }).waitFor();
      const key = JSON.parse(fs.readFileSync(env.SA_KEY, "utf8"));
      delete key.private_key;
      await page.setInputFiles("#sa-file", { name: "key.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(key)) });
      await submit();
      await page.locator('#sa-form [data-error-for="credential"]', { hasText: w.noPrivateKey }).waitFor();
      await shot(`connections-service-account-refused-${w.code}`);
      await page.setInputFiles("#sa-file", env.SA_KEY);
      await submit();
      await page.waitForSelector("#connections >> text=google-sheets");
      assert.match(await row("google-sheets").innerText(), /google_service_account/);
      assert.doesNotMatch(await page.content(), /BEGIN PRIVATE KEY/);
    },
  };
}
