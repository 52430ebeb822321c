// The host's wall clock (Envoy's time source, which the host emulator can advance in tests).
import * as host from "./abi/hostcalls";

export function currentTimeNanoseconds(): u64 {
  return host.getCurrentTimeNanoseconds();
}

export function currentTimeMilliseconds(): u64 {
  return host.getCurrentTimeNanoseconds() / 1_000_000;
}

export function currentTimeSeconds(): u64 {
  return host.getCurrentTimeNanoseconds() / 1_000_000_000;
}
