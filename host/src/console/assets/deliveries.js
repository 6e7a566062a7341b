// Gancho console: the deliveries' pages — one delivery retried or run again (asking first when it already
// arrived, or which request she means when its webhook changed since), the list's filter and the replay of a
// time range in her zone, and "send a test event". Given console.js's helpers by the page it sets up.
"use strict";

window.GanchoDeliveries = (function () {
  function deliveryPage(h) {
    const { data, t, tenant, tenantPath, api, status, showError, $ } = h;
    const delivery = data.delivery;
    const path = (action) => tenantPath("/deliveries/" + encodeURIComponent(delivery.id) + "/" + action);
    const buttons = [$("#retry"), $("#rerun")];
    const question = $("#retry-question");
    let answerQuestion = null;
    // Asks in the page (not a browser dialog), with the choices the situation has.
    function ask(text, choices) {
      $("#retry-question-text").textContent = text;
      $("#answer-same").hidden = !choices.includes("same");
      $("#answer-current").hidden = !choices.includes("current");
      question.hidden = false;
      return new Promise((resolve) => { answerQuestion = resolve; });
    }
    [["#answer-same", "same"], ["#answer-current", "current"], ["#answer-cancel", null]].forEach(([id, choice]) =>
      $(id).addEventListener("click", () => { question.hidden = true; if (answerQuestion) answerQuestion(choice); }));

    async function send(action, body) {
      status($("#retry-error"), "");
      buttons.forEach((b) => { b.disabled = true; });
      const answer = await api("POST", path(action), body);
      buttons.forEach((b) => { b.disabled = false; });
      return answer;
    }
    async function done(answer) {
      if (!answer.ok) { showError(document, answer, $("#retry-error")); return; }
      // A re-run makes the event's deliveries anew, a moment later: they show in the event's list.
      if (answer.body && answer.body.rerun) {
        status($("#retry-status"), t("rerun_started"));
        setTimeout(() => { location.href = "/console/t/" + encodeURIComponent(tenant) + "/deliveries?event_id=" + encodeURIComponent(delivery.event_id); }, 1200);
        return;
      }
      status($("#retry-status"), t("retry_queued"));
      setTimeout(() => location.reload(), 1500);
    }
    async function rerun() { await done(await send("rerun")); }
    async function retry(force) {
      const answer = await send("retry", force ? { force: true } : undefined);
      const code = answer.body && answer.body.error && answer.body.error.code;
      if (answer.status === 409 && code === "already_delivered") {
        const choice = await ask(t("ask_delivered"), ["same"]);
        if (choice === "same") await retry(true);
        return;
      }
      await done(answer);
    }
    $("#retry").addEventListener("click", async () => {
      if (delivery.subscription_changed_since && delivery.status !== "plugin_error") {
        const choice = await ask(t("ask_changed"), ["same", "current"]);
        if (choice === "same") await retry(delivery.status === "succeeded");
        else if (choice === "current") await rerun();
        return;
      }
      if (delivery.status === "succeeded") {
        const choice = await ask(t("ask_delivered"), ["same"]);
        if (choice === "same") await retry(true);
        return;
      }
      await retry(false);
    });
    $("#rerun").addEventListener("click", async () => {
      if (delivery.status === "succeeded") {
        const choice = await ask(t("ask_delivered_rerun"), ["current"]);
        if (choice !== "current") return;
      }
      await rerun();
    });
  }
  function deliveriesPage(h) {
    const { t, tenantPath, api, status, clearErrors, showError, localToRfc3339, zone, $, $$ } = h;
    // The filter's times are her wall clock: the page says where that is.
    const filter = $("#filter-form");
    if (filter) filter.addEventListener("submit", () => {
      $$("[data-tz-for]", filter).forEach((hidden) => {
        const value = $("#" + hidden.dataset.tzFor).value;
        hidden.value = value ? String(new Date(value).getTimezoneOffset()) : "";
        hidden.disabled = !value;
      });
    });
    testEvents(h, null);
    const form = $("#replay-form");
    if (!form) return;
    $("#r-zone").textContent = t("times_in") + " " + zone;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form.parentElement);
      if (!$("#r-from").value || !$("#r-to").value) { $("#replay-error").textContent = t("pick_range"); return; }
      const request = { from: localToRfc3339($("#r-from").value), to: localToRfc3339($("#r-to").value) };
      if ($("#r-rerun").checked) request.rerun = true;
      const answer = await api("POST", tenantPath("/subscriptions/" + encodeURIComponent($("#r-sub").value) + "/replay"), request);
      if (!answer.ok) showError(form.parentElement, answer, $("#replay-error"));
      else status($("#replay-status"), t("replayed") + " " + (answer.body.replayed ?? 0) + (answer.body.reran ? " · " + t("reran") + " " + answer.body.reran : ""));
    });
  }

  // "Send a test event": a sample of one of her event types, or a copy of a recent event, through one
  // webhook (`subscription`) or all that match; its deliveries are marked as tests.
  function testEvents(h, subscription) {
    const { data, t, tenant, tenantPath, api, clearErrors, showError, $ } = h;
    const source = $("#test-source");
    if (!source || !data.catalog) return;
    const group = (label, items) => {
      const g = document.createElement("optgroup");
      g.label = label;
      items.forEach(([value, text]) => { const o = document.createElement("option"); o.value = value; o.textContent = text; g.append(o); });
      if (items.length) source.append(g);
    };
    group(t("samples"), data.catalog.types.map((ty) => ["type:" + ty.type, ty.name]));
    group(t("recent"), (data.recent || []).map((id) => ["copy:" + id, id]));
    const button = $("#send-test");
    let key = data.idempotency_key;
    button.addEventListener("click", async () => {
      clearErrors($("#test-event"));
      const choice = source.value;
      const request = choice.startsWith("copy:") ? { copy_of: choice.slice(5) } : { type: choice.slice(5) };
      if (subscription) request.subscription_id = subscription;
      button.disabled = true;
      const answer = await api("POST", tenantPath("/test-events"), request, undefined, { "idempotency-key": key + "-" + choice });
      button.disabled = false;
      if (!answer.ok) { showError($("#test-event"), answer, $("#test-error")); return; }
      // A next send is a new event.
      key = data.idempotency_key + "-" + Date.now().toString(36);
      const count = (answer.body.subscriptions || []).length;
      const link = document.createElement("a");
      link.href = "/console/t/" + encodeURIComponent(tenant) + "/deliveries?event_id=" + encodeURIComponent(answer.body.event_id);
      link.id = "test-deliveries";
      link.textContent = t("test_see");
      const line = $("#test-status");
      line.textContent = (count ? t("test_sent").replace("{n}", count) : t("test_none")) + " ";
      if (count) line.append(link);
    });
  }

  return { deliveryPage, deliveriesPage, testEvents };
})();
