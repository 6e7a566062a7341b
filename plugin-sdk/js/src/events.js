// What the catalog's events mean beyond their fields (docs/EVENTS.md; the types are in index.d.ts): whether
// a call was missed, a template's rendered text, an amount of money as text.

/**
 * Whether nobody answered `call`: true when its status is `missed`, false when `answered`; otherwise true
 * exactly when `answered_at` is absent or null. Ask it of `call.ended`: a ringing call is "missed" too.
 */
export function isMissed(call) {
  if (call.status === "missed") return true;
  if (call.status === "answered") return false;
  return call.answered_at === undefined || call.answered_at === null;
}

/** A template's body with `{{1}}`-style placeholders filled from its parameters; null without a body. */
export function renderedBody(template) {
  const body = template.body;
  if (typeof body !== "string") return null;
  const parameters = template.parameters || [];
  let rendered = "";
  let rest = body;
  for (let start = rest.indexOf("{{"); start >= 0; start = rest.indexOf("{{")) {
    rendered += rest.slice(0, start);
    const after = rest.slice(start + 2);
    const end = after.indexOf("}}");
    const index = end >= 0 && /^\s*\d+\s*$/.test(after.slice(0, end)) ? Number(after.slice(0, end)) : 0;
    if (index >= 1 && index <= parameters.length) {
      rendered += parameters[index - 1];
      rest = after.slice(end + 2);
    } else {
      rendered += "{{";
      rest = after;
    }
  }
  return rendered + rest;
}

/** `"12.50 ARS"` from `{amount: "12.50", currency: "ARS"}`. */
export function moneyText(money) {
  return `${money.amount} ${money.currency}`;
}
