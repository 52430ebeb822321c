// Exports only the proxy-wasm callbacks a module's contexts implement. Envoy (proxy-wasm-cpp-host) skips a callback
// the module does not export, while an exported one is entered on every request even when it does nothing — so a
// filter that never looks at bodies must not export proxy_on_request_body. The SDK's exports.ts exports every
// callback; this compiler transform removes, before optimization, each callback export whose context method no
// filter class overrides, and the optimizer then drops the dispatch code behind it.
import binaryen from "binaryen";

/** Callback export → the context method that handles it (the SDK's default of it does nothing). */
export const OPTIONAL_CALLBACKS: Record<string, string> = {
  proxy_on_request_headers: "onRequestHeaders",
  proxy_on_request_body: "onRequestBody",
  proxy_on_request_trailers: "onRequestTrailers",
  proxy_on_response_headers: "onResponseHeaders",
  proxy_on_response_body: "onResponseBody",
  proxy_on_response_trailers: "onResponseTrailers",
  proxy_on_log: "onLog",
  proxy_on_done: "onDone",
  proxy_on_tick: "onTick",
  proxy_on_queue_ready: "onQueueReady",
};

/** Where the SDK's default implementations live (compiled function names start with the file path). */
const SDK_CONTEXTS = "assembly/context/";

/** The context methods that some class outside the SDK defines, from the compiled functions' internal names. */
export function overriddenMethods(functionNames: Iterable<string>): Set<string> {
  const methods = new Set<string>();
  for (const name of functionNames) {
    if (name.startsWith(SDK_CONTEXTS) || name.startsWith("~lib/")) continue;
    const match = /#(on[A-Za-z]+)$/.exec(name);
    if (match) methods.add(match[1]);
  }
  return methods;
}

/** An asc transform (passed to asc.main as `transforms`) that removes the callback exports nothing implements. */
export class CallbackExportPruner {
  removed: string[] = [];

  afterCompile(module: binaryen.Module): void {
    const names: string[] = [];
    for (let i = 0, n = module.getNumFunctions(); i < n; i++) names.push(binaryen.getFunctionInfo(module.getFunctionByIndex(i)).name);
    const overridden = overriddenMethods(names);
    const exported = new Set<string>();
    for (let i = 0, n = module.getNumExports(); i < n; i++) exported.add(binaryen.getExportInfo(module.getExportByIndex(i)).name);
    for (const [callback, method] of Object.entries(OPTIONAL_CALLBACKS)) {
      if (exported.has(callback) && !overridden.has(method)) {
        module.removeExport(callback);
        this.removed.push(callback);
      }
    }
  }
}
