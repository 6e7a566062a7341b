// The event's time in each zone the config lists, as localTime reads it: one JSON row per zone.
import { Request, localTime } from "@gancho/plugin-sdk";

export function transform(event, { config }) {
  return [Request.json(config.zones.map((zone) => {
    const local = localTime(event.timestamp, zone);
    return { zone, local: local.rfc3339, abbreviation: local.abbreviation };
  }))];
}
