// Why a subscription's configuration is refused, and the entry's own check that it is a JSON object.

/** A configuration refused: `field` is its path (`channel`, `columns[2]`), or null for the whole of it. */
export class ConfigError extends Error {
  constructor(field, message) {
    super(message);
    this.name = "ConfigError";
    this.field = field === undefined ? null : field;
  }
}

/** The configuration's JSON text parsed; a ConfigError unless it is an object. */
export function parseConfig(text) {
  let config;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(null, `the configuration is not valid JSON: ${error.message}`);
  }
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new ConfigError(null, "the configuration must be a JSON object, such as {} or {\"channel\": \"#sales\"}");
  }
  return config;
}
