// The Lua baselines as Envoy HTTP filters. Each script in this folder reads a `CONFIG` table; these builders
// prepend one written from a JSON-shaped configuration, so a test or the benchmark hands the Lua filter the same
// configuration object it hands the Wasm filter (see each .lua file's header for the fields it understands).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { luaFilter, type Json } from "../bootstrap.ts";

const luaDir = dirname(fileURLToPath(import.meta.url));

export type LuaBaseline = "jwt_auth" | "rate_limit" | "metrics";

/** The script of a baseline, as committed. */
export function luaSource(baseline: LuaBaseline): string {
  return readFileSync(join(luaDir, `${baseline}.lua`), "utf8");
}

/** A Lua string literal holding exactly these UTF-8 bytes: printable ASCII as is, everything else escaped. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, "utf8")) {
    if (byte === 0x22 || byte === 0x5c) out += "\\" + String.fromCharCode(byte);
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += "\\" + String(byte).padStart(3, "0");
  }
  return out + '"';
}

/** A Lua table constructor for a JSON-shaped value (null and undefined members are left out, as Lua has no null). */
export function toLuaLiteral(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return luaString(value);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as a Lua number`);
    return String(value);
  }
  if (Array.isArray(value)) return `{${value.map(toLuaLiteral).join(", ")}}`;
  if (typeof value === "object") {
    const members = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== null && member !== undefined)
      .map(([key, member]) => `[${luaString(key)}] = ${toLuaLiteral(member)}`);
    return `{${members.join(", ")}}`;
  }
  throw new Error(`cannot write a ${typeof value} as a Lua value`);
}

/** The full inline code of a baseline: its CONFIG, then the script. */
export function luaBaselineCode(baseline: LuaBaseline, config: unknown): string {
  return `local CONFIG = ${toLuaLiteral(config)}\n${luaSource(baseline)}`;
}

/** An envoy.filters.http.lua entry running a baseline with this configuration. */
export function luaBaselineFilter(baseline: LuaBaseline, config: unknown, options: { statPrefix?: string } = {}): Json {
  // Several Lua filters in one chain each need their own name (and stat prefix) to stay apart.
  const filter = luaFilter(luaBaselineCode(baseline, config), options.statPrefix ?? baseline);
  return { ...filter, name: `envoy.filters.http.lua.${baseline}` };
}
