// The as-mesh proxy-wasm SDK for AssemblyScript. Import from here in filters; re-export "./abi/exports" from the
// filter's entry file so Envoy finds the callbacks.
export {
  WasmResult, LogLevel, HeaderMapType, BufferType, MetricType, StreamType,
  FilterHeadersStatus, FilterDataStatus, FilterTrailersStatus, resultName,
} from "./abi/types";
export { HeaderPair, Headers, deserializeHeaders } from "./abi/pairs";
export {
  BaseContext, RootContext, Context, registerRootContext, dispatchHttpCall, HttpCallCallback, RootContextFactory,
} from "./context";
export { HttpCallResponse } from "./http_call";
export { HeaderMap, HeaderName, headers, makeHeaders, PreparedHeaders } from "./headers";
export { propertyPath, getProperty, getPropertyString, getPropertyInt, getPropertyBool, setProperty, PropertyPath } from "./properties";
export { SharedData, SharedDataEntry, SharedDataKey, SharedQueue } from "./shared_data";
export { Counter, Gauge, Histogram } from "./metrics";
export { log, logEnabled, logTrace, logDebug, logInfo, logWarn, logError, logCritical } from "./log";
export { currentTimeNanoseconds, currentTimeMilliseconds, currentTimeSeconds } from "./time";
