// A niche CRM that takes form posts: a missed call becomes a lead to call back, a closed chat a note on
// the contact. The subscription's endpoint URL is the CRM's form endpoint. See README.md.

import { ConfigError, PermanentError, Request, isMissed, log } from "@gancho/plugin-sdk";

/** `list_id` is required; `owner` (who gets the callback) and `source` are optional. */
export function validateConfig(config) {
  const known = ["list_id", "owner", "source"];
  for (const [field, value] of Object.entries(config)) {
    if (!known.includes(field)) throw new ConfigError(field, `unknown field \`${field}\`, expected one of \`list_id\`, \`owner\`, \`source\``);
    if (typeof value !== "string" || value === "") throw new ConfigError(field, `set ${field} to a non-empty string`);
  }
  if (config.list_id === undefined) throw new ConfigError("list_id", "missing field `list_id`: set it to the CRM list leads go to");
}

/** One form post per missed call or closed chat; nothing for anything else. */
export function transform(event, { config }) {
  try {
    validateConfig(config);
  } catch (error) {
    throw new PermanentError(`config field "${error.field}": ${error.message}`);
  }
  const source = config.source ?? "gancho";
  if (event.type === "call.ended" && isMissed(event.data.call)) {
    const call = event.data.call;
    const when = call.started_at ?? event.timestamp;
    return [
      Request.form([
        ["action", "create_lead"],
        ["list_id", config.list_id],
        ["phone", call.from],
        ["name", call.caller_name],
        ["owner", config.owner],
        ["source", source],
        ["note", `Missed call at ${when}${call.queue != null ? ` (${call.queue})` : ""}`],
      ]),
    ];
  }
  if (event.type === "chat.closed") {
    const { chat, contact } = event.data;
    const messages = chat.messages ?? [];
    const texts = messages.filter((m) => m.text != null).map((m) => `${m.author ?? m.from}: ${m.text}`);
    log.info(`chat ${chat.id}: ${texts.length} of ${messages.length} messages have text`);
    return [
      Request.form([
        ["action", "add_note"],
        ["list_id", config.list_id],
        ["phone", contact.phone],
        ["email", contact.email],
        ["name", contact.name],
        ["source", source],
        ["note", [`Chat ${chat.id} closed`, ...texts].join("\n")],
      ]),
    ];
  }
  return [];
}
