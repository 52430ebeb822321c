// Metrics defined by the module appear in Envoy's /stats (and /stats/prometheus, under the wasmcustom
// prefix unless the bootstrap's stats settings extract tags from the name). Define them once, in onConfigure or at
// module start, and keep the object: the definition is a host call, incrementing is a cheap one.
import * as host from "./abi/hostcalls";
import { MetricType } from "./abi/types";

export class Counter {
  readonly id: u32;
  constructor(public readonly name: string) {
    this.id = host.defineMetric(MetricType.Counter, name);
  }
  increment(by: u64 = 1): void {
    host.incrementMetric(this.id, <i64>by);
  }
  get(): u64 {
    return host.getMetric(this.id);
  }
}

export class Gauge {
  readonly id: u32;
  constructor(public readonly name: string) {
    this.id = host.defineMetric(MetricType.Gauge, name);
  }
  set(value: u64): void {
    host.recordMetric(this.id, value);
  }
  add(delta: i64): void {
    host.incrementMetric(this.id, delta);
  }
  get(): u64 {
    return host.getMetric(this.id);
  }
}

export class Histogram {
  readonly id: u32;
  constructor(public readonly name: string) {
    this.id = host.defineMetric(MetricType.Histogram, name);
  }
  record(value: u64): void {
    host.recordMetric(this.id, value);
  }
}
