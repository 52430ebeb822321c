// The xDS server (ADS SotW + delta, SDS), its status model and a client for tests and benchmarks.
export { XdsServer } from "./server.ts";
export type { XdsServerOptions } from "./server.ts";
export type { ConnectedProxy, ProxySyncStatus, TypeSyncStatus, SyncState, NackRecord } from "./status.ts";
export { adsService, sdsService, adsServerService, sdsServerService } from "./services.ts";
export type { EncodedResponse } from "./services.ts";
export { XdsStream } from "./stream.ts";
export { formatStatusTable } from "./format.ts";
export { XdsClient, SotwClientStream, DeltaClientStream } from "./client.ts";
export type { ClientNode, StreamOptions } from "./client.ts";
export { SimulatedFleet, edsNamesOf, listenerDependencies } from "./fleet.ts";
export type { FleetOptions, ConvergenceResult } from "./fleet.ts";
