// Enumerations of the proxy-wasm ABI 0.2.1. Values are fixed by the spec; names follow the Rust SDK's.

export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
}

export enum LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }

export enum HeaderMapType {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
}

export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  CallData = 8,
}

export enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }

export enum StreamType { Request = 0, Response = 1, Downstream = 2, Upstream = 3 }

/** What a headers callback tells Envoy to do next. */
export enum FilterHeadersStatus { Continue = 0, StopIteration = 1 }
/** What a body callback tells Envoy to do next. */
export enum FilterDataStatus { Continue = 0, StopIterationAndBuffer = 1, StopIterationAndWatermark = 2, StopIterationNoBuffer = 3 }
/** What a trailers callback tells Envoy to do next. */
export enum FilterTrailersStatus { Continue = 0, StopIteration = 1 }

export function resultName(result: WasmResult): string {
  switch (result) {
    case WasmResult.Ok: return "Ok";
    case WasmResult.NotFound: return "NotFound";
    case WasmResult.BadArgument: return "BadArgument";
    case WasmResult.SerializationFailure: return "SerializationFailure";
    case WasmResult.ParseFailure: return "ParseFailure";
    case WasmResult.BadExpression: return "BadExpression";
    case WasmResult.InvalidMemoryAccess: return "InvalidMemoryAccess";
    case WasmResult.Empty: return "Empty";
    case WasmResult.CasMismatch: return "CasMismatch";
    case WasmResult.ResultMismatch: return "ResultMismatch";
    case WasmResult.InternalFailure: return "InternalFailure";
    case WasmResult.BrokenConnection: return "BrokenConnection";
    case WasmResult.Unimplemented: return "Unimplemented";
    default: return "WasmResult(" + (<i32>result).toString() + ")";
  }
}
