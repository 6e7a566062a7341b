// Gancho console: the controls for integrators and operators that sit beside the charts — a canary
// started, promoted or rolled back from a webhook's page, and a tenant's key revoked from the operator's
// keys page — through the JSON API, with the session cookie and its CSRF token (console.js's `api`).
"use strict";

window.GanchoControls = {
  // The canary card of a webhook's page (its advanced tools).
  canary(h) {
    const { $, $$, api, t, tenantPath, clearErrors, showError, status, data } = h;
    const card = $("#canary");
    if (!card || !data.subscription) return;
    const rollouts = tenantPath("/subscriptions/" + encodeURIComponent(data.subscription.id) + "/rollouts");
    const form = $("#canary-form");
    if (form) form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(card);
      const request = { candidate_version: Number($("#canary-version").value), percent: Number($("#canary-percent").value) };
      const answer = await api("POST", rollouts, request);
      if (!answer.ok) { showError(card, answer, $("#canary-error")); return; }
      status($("#canary-status"), t("canary_started"));
      location.reload();
    });
    $$("[data-rollout-end]", card).forEach((button) => button.addEventListener("click", async () => {
      clearErrors(card);
      const path = rollouts + "/" + encodeURIComponent(button.dataset.rollout) + "/" + button.dataset.rolloutEnd;
      const answer = await api("POST", path);
      if (!answer.ok) { showError(card, answer, $("#canary-error")); return; }
      status($("#canary-status"), t("canary_ended"));
      location.reload();
    }));
  },

  // A tenant's keys on the operator's side: revoking one asks first.
  keys(h) {
    const { $, $$, api, t, showError, status, data } = h;
    $$("[data-revoke-key]").forEach((button) => button.addEventListener("click", async () => {
      if (!confirm(t("keys_confirm"))) return;
      const id = button.dataset.revokeKey;
      const path = "/v1/tenants/" + encodeURIComponent(data.key_tenant) + "/keys/" + encodeURIComponent(id);
      const answer = await api("DELETE", path);
      if (!answer.ok) { showError(document, answer, $("#keys-error")); return; }
      const row = button.closest("tr");
      if (row) row.remove();
      status($("#keys-status"), t("keys_revoked"));
    }));
  },
};
