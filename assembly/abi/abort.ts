import * as host from "./hostcalls";
import { LogLevel } from "./types";

/**
 * Replaces AssemblyScript's `env.abort` import, which Envoy does not provide: the failure is logged at critical
 * level with its source position, then the VM traps so Envoy marks it failed instead of running on in a bad state.
 */
export function proxyAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text = "wasm abort: " + (message ? message : "(no message)") + " at " + (fileName ? fileName : "?") +
    ":" + line.toString() + ":" + column.toString();
  host.log(LogLevel.Critical, text);
  unreachable();
}
