// The one set of Envoy builders: static configs (tests, demo, bench) and the control service's xDS resources.
export * from "./types.ts";
export * from "./filters.ts";
export * from "./route.ts";
export * from "./listener.ts";
export * from "./cluster.ts";
export * from "./bootstrap.ts";
