import type { Plugin } from "./index.js";

export const TEST_ENDPOINT: string;
/** Every sample event, by file name (`call.ended.missed.json`), as JSON text. */
export const samples: Record<string, string>;
export function longChatClosed(count: number): string;
export function takeLogs(): Array<[string, string]>;

export class PluginErrorResult extends Error {
  readonly kind: "permanent" | "transient";
  readonly pluginMessage: string;
}

export class SentRequest {
  readonly method: string;
  readonly url: string | null;
  readonly headers: Array<[string, string]>;
  readonly body: Uint8Array;
  bodyText(): string;
  bodyJson(): any;
  bodyForm(): Array<[string, string]>;
  header(name: string): string | null;
}

export function run(plugin: Plugin, eventJson: string, configJson?: string, options?: { endpointUrl?: string }): SentRequest[];
export function validate(plugin: Plugin, configJson: string): { field: string | null; message: string } | null;
export function merge(
  plugin: Plugin,
  requests: Array<SentRequest | import("./index.js").Request>,
  configJson?: string,
  options?: { endpointUrl?: string },
): Array<{ request: SentRequest; carries: number[] }>;
