// k6 load against the demo mesh: public requests, authenticated requests for a few subjects (some get rate
// limited), and requests without a token. Counts every status the mesh answers with.
//   k6 run -e TARGET=http://127.0.0.1:10000 -e TOKEN_URL=http://127.0.0.1:10001/demo/token envoy/demo/demo-load.js
import http from "k6/http";
import { check } from "k6";

const target = __ENV.TARGET || "http://127.0.0.1:10000";
const tokenUrl = __ENV.TOKEN_URL || "http://127.0.0.1:10001/demo/token";

export const options = {
  scenarios: {
    mixed: { executor: "constant-arrival-rate", rate: Number(__ENV.RATE || 200), timeUnit: "1s",
      duration: __ENV.DURATION || "20s", preAllocatedVUs: 20 },
  },
  thresholds: { checks: ["rate>0.99"] },
};

export function setup() {
  const tokens = [];
  for (const subject of ["alice", "bob", "carol", "dave"]) tokens.push(http.get(`${tokenUrl}?sub=${subject}`).body.trim());
  return { tokens };
}

export default function (data) {
  const roll = Math.random();
  if (roll < 0.3) {
    const response = http.get(`${target}/public/hello`);
    check(response, { "public → 200": (r) => r.status === 200 });
  } else if (roll < 0.4) {
    const response = http.get(`${target}/api/items`);
    check(response, { "no token → 401": (r) => r.status === 401 });
  } else {
    const token = data.tokens[Math.floor(Math.random() * data.tokens.length)];
    const response = http.get(`${target}/api/items`, { headers: { authorization: `Bearer ${token}` } });
    check(response, { "token → 200 or 429": (r) => r.status === 200 || r.status === 429 });
  }
}
