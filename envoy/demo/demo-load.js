// k6 load against the demo mesh's gateway: the call chain with a token for a few subjects (/rides), bookings
// that the per-user rate limit cuts off (/book, 5 per 10 s per user), and requests without a token, which the
// edge-require-jwt AuthorizationPolicy refuses. Every answer is checked against what the mesh promises. The edge
// serves HTTPS with a certificate from the mesh CA: k6 verifies it against the roots in SSL_CERT_FILE (the mesh
// root) for the edge's name, so that name must resolve to the gateway (extra_hosts in compose, GATEWAY_ADDRESS here).
//   docker compose --profile load run --rm k6            (the environment comes from docker-compose.yml)
//   SSL_CERT_FILE=mesh-root.pem k6 run -e GATEWAY_ADDRESS=127.0.0.1 -e TOKEN_URL=http://127.0.0.1:8080/demo/token envoy/demo/demo-load.js
import http from "k6/http";
import { check } from "k6";

const edgeHost = "rides.demo.as-mesh";
const target = __ENV.TARGET || `https://${edgeHost}:8443`;
const tokenUrl = __ENV.TOKEN_URL || "http://127.0.0.1:8080/demo/token";

export const options = {
  scenarios: {
    mixed: { executor: "constant-arrival-rate", rate: Number(__ENV.RATE || 100), timeUnit: "1s",
      duration: __ENV.DURATION || "20s", preAllocatedVUs: 20 },
  },
  thresholds: { checks: ["rate>0.99"] },
  // Like curl --resolve: the edge's name stands for this address, and the certificate is checked for the name.
  ...(__ENV.GATEWAY_ADDRESS ? { hosts: { [edgeHost]: __ENV.GATEWAY_ADDRESS } } : {}),
};

export function setup() {
  const tokens = [];
  for (const subject of ["alice", "bob", "carol", "dave"]) tokens.push(http.get(`${tokenUrl}?sub=${subject}`).body.trim());
  return { tokens };
}

export default function (data) {
  const roll = Math.random();
  const token = data.tokens[Math.floor(Math.random() * data.tokens.length)];
  const auth = { headers: { authorization: `Bearer ${token}` } };
  if (roll < 0.1) {
    const response = http.get(`${target}/rides`);
    check(response, { "no token → 403 (edge-require-jwt)": (r) => r.status === 403 });
  } else if (roll < 0.2) {
    const response = http.get(`${target}/book`, auth);
    check(response, { "book → 200 or 429 (per-user rate limit)": (r) => r.status === 200 || r.status === 429 });
  } else {
    const response = http.get(`${target}/rides`, auth);
    check(response, { "rides → 200 (ride → driver → payment)": (r) => r.status === 200 });
  }
}
