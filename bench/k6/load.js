// The k6 load of one benchmark phase against one Envoy. bench/run.ts runs it once per phase with:
//   TARGET       base URL of the Envoy listener
//   MODE         "rate": open model, RATE requests/s for DURATION (fixed arrival rate; latency percentiles)
//                "vus":  closed model, VUS virtual users in a loop for DURATION (saturation; max requests/s)
//   RATE, VUS, DURATION (k6 duration, e.g. "30s")
//   HOT_TOKENS   optional path of a JSON array of bearer tokens every phase reuses (cache-warm)
//   COLD_TOKENS  path of a JSON array of bearer tokens each sent once (cache-cold)
//   COLD_SHARE   share of requests (0..1) that carry a token never sent before (cache-cold); the rest reuse the
//                hot set (cache-warm)
//   COLD_OFFSET  first cold token this phase may use (phases of one Envoy never reuse each other's cold tokens)
//   USERS        requests carry x-user: user-<n> for n < USERS (the rate limit's key), default 100
//   SUMMARY      path the k6 summary (JSON) is written to
import http from "k6/http";
import exec from "k6/execution";
import { SharedArray } from "k6/data";
import { Counter } from "k6/metrics";

const mode = __ENV.MODE || "rate";
const duration = __ENV.DURATION || "10s";
const users = Number(__ENV.USERS || 100);
const coldShare = Number(__ENV.COLD_SHARE || 0);
const coldOffset = Number(__ENV.COLD_OFFSET || 0);
const target = __ENV.TARGET + "/bench";

// Reading a k6 SharedArray element costs about 0.2 ms of k6's CPU (measured with k6 v1.8.1 here), enough to
// saturate k6's core and show up as latency if every request did it. So the few hot tokens are a plain array in each
// VU, and only cold requests (a tenth by default) read their token from the SharedArray that keeps the large cold
// pool in memory once.
const hotTokens = __ENV.HOT_TOKENS ? JSON.parse(open(__ENV.HOT_TOKENS)) : null;
const coldTokens = __ENV.COLD_TOKENS ? new SharedArray("cold", () => JSON.parse(open(__ENV.COLD_TOKENS))) : null;

/** Cold requests that found the cold pool used up and had to reuse a token (then no longer cache-cold). */
const coldReused = new Counter("cold_tokens_reused");
const coldSent = new Counter("cold_tokens_sent");

const scenario = mode === "vus"
  ? { executor: "constant-vus", vus: Number(__ENV.VUS || 32), duration }
  : {
    executor: "constant-arrival-rate",
    rate: Number(__ENV.RATE || 1000),
    timeUnit: "1s",
    duration,
    preAllocatedVUs: Number(__ENV.PREALLOCATED_VUS || 100),
    maxVUs: Number(__ENV.MAX_VUS || 1000),
  };

export const options = {
  scenarios: { load: scenario },
  summaryTrendStats: ["avg", "min", "med", "max", "p(50)", "p(90)", "p(99)", "p(99.9)"],
  discardResponseBodies: true,
  noConnectionReuse: false,
  insecureSkipTLSVerify: false,
};

// Iteration i is cold when the running count of cold requests, floor(i * share), steps up at i: spreads the cold
// requests evenly, and gives each one its own index into the cold pool.
function tokenFor(iteration) {
  const coldBefore = Math.floor(iteration * coldShare);
  const coldAfter = Math.floor((iteration + 1) * coldShare);
  if (coldAfter > coldBefore && coldTokens.length > 0) {
    const index = coldOffset + coldBefore;
    coldSent.add(1);
    if (index >= coldTokens.length) coldReused.add(1);
    return coldTokens[index % coldTokens.length];
  }
  return hotTokens[iteration % hotTokens.length];
}

export default function () {
  const iteration = exec.scenario.iterationInTest;
  const headers = { "x-user": "user-" + (iteration % users) };
  if (hotTokens) headers.authorization = "Bearer " + tokenFor(iteration);
  http.get(target, { headers, responseCallback: http.expectedStatuses(200) });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
