// Logging into Envoy's log (component "wasm"), at Envoy's levels.
import * as host from "./abi/hostcalls";
import { LogLevel } from "./abi/types";

export function log(level: LogLevel, message: string): void {
  host.log(level, message);
}

/** True when Envoy would print this level; use it to skip building expensive debug messages. */
export function logEnabled(level: LogLevel): bool {
  return level >= host.getLogLevel();
}

export function logTrace(message: string): void { host.log(LogLevel.Trace, message); }
export function logDebug(message: string): void { host.log(LogLevel.Debug, message); }
export function logInfo(message: string): void { host.log(LogLevel.Info, message); }
export function logWarn(message: string): void { host.log(LogLevel.Warn, message); }
export function logError(message: string): void { host.log(LogLevel.Error, message); }
export function logCritical(message: string): void { host.log(LogLevel.Critical, message); }
