// The host's wall clock (Envoy's time source, which the host emulator can advance in tests). It is read from the
// host once per callback: Envoy does not advance it while the module runs anyway (its time source is updated by
// the event loop), and a chain of stages each asking for the time would otherwise cross to the host each time.
import * as host from "./abi/hostcalls";

let callbackNow: u64 = 0;

/** Called by the ABI layer whenever Envoy enters the module. */
export function forgetCallbackTime(): void {
  callbackNow = 0;
}

export function currentTimeNanoseconds(): u64 {
  if (callbackNow == 0) callbackNow = host.getCurrentTimeNanoseconds();
  return callbackNow;
}

export function currentTimeMilliseconds(): u64 {
  return currentTimeNanoseconds() / 1_000_000;
}

export function currentTimeSeconds(): u64 {
  return currentTimeNanoseconds() / 1_000_000_000;
}
