// An SVG chart of a run: per variant, the fixed-rate latency percentiles (p50, p90, p99, on a log scale: they span
// three decades) and Envoy's CPU time per request with what the filter adds, as horizontal bars. Plain SVG, no
// dependencies, readable on GitHub.
import type { VariantSummary } from "./summary.ts";

const ROW = 34;
const LABEL_WIDTH = 470;
const PANEL_WIDTH = 360;
const GAP = 40;
const TOP = 56;
const COLORS = { p50: "#4c78a8", p90: "#f58518", p99: "#e45756", cpu: "#54a24b" };
const IMPL_MARK: Record<string, string> = { none: "#999999", lua: "#000080", wasm: "#7a1fa2", native: "#2e7d32" };
const IMPL_NAME: Record<string, string> = { none: "no filter", lua: "Lua", wasm: "Wasm", native: "native" };

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A round axis maximum above `value`: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function linearAxis(x: number, width: number, max: number, unit: string, bottom: number): string {
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    const tx = x + (width * i) / 4;
    ticks.push(`<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${bottom}" stroke="#e0e0e0"/>`);
    ticks.push(`<text x="${tx}" y="${bottom + 16}" text-anchor="middle" font-size="11">${+value.toPrecision(3)}</text>`);
  }
  ticks.push(`<text x="${x + width / 2}" y="${bottom + 32}" text-anchor="middle" font-size="12">${escape(unit)}</text>`);
  return ticks.join("");
}

/** A log-scale axis over whole decades, [10^low, 10^high]. */
class LogScale {
  constructor(readonly low: number, readonly high: number, readonly x: number, readonly width: number) {}

  static covering(min: number, max: number, x: number, width: number): LogScale {
    const low = Math.floor(Math.log10(Math.max(min, 1e-3)));
    const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(max, 1e-3))));
    return new LogScale(low, high, x, width);
  }

  position(value: number): number {
    const clamped = Math.min(Math.max(value, 10 ** this.low), 10 ** this.high);
    return this.x + ((Math.log10(clamped) - this.low) / (this.high - this.low)) * this.width;
  }

  axis(unit: string, bottom: number): string {
    const ticks: string[] = [];
    for (let decade = this.low; decade <= this.high; decade++) {
      const tx = this.position(10 ** decade);
      ticks.push(`<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${bottom}" stroke="#d0d0d0"/>`);
      ticks.push(`<text x="${tx}" y="${bottom + 16}" text-anchor="middle" font-size="11">${+(10 ** decade).toPrecision(1)}</text>`);
    }
    ticks.push(`<text x="${this.x + this.width / 2}" y="${bottom + 32}" text-anchor="middle" font-size="12">${escape(unit)}</text>`);
    return ticks.join("");
  }
}

export function renderChart(summaries: VariantSummary[], title: string): string {
  const bottom = TOP + summaries.length * ROW;
  const width = LABEL_WIDTH + PANEL_WIDTH * 2 + GAP * 2;
  const height = bottom + 50;
  const latency = LogScale.covering(Math.min(...summaries.map((s) => s.fixed.p50)), Math.max(...summaries.map((s) => s.fixed.p99)),
    LABEL_WIDTH, PANEL_WIDTH);
  const cpuMax = niceMax(Math.max(...summaries.map((s) => s.fixed.cpuUsPerRequest)));
  const cpuX = LABEL_WIDTH + PANEL_WIDTH + GAP;
  const impls = [...new Set(summaries.map((s) => s.impl))];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="40" font-size="12">${impls.map((impl) => `<tspan fill="${IMPL_MARK[impl]}">▌</tspan>${IMPL_NAME[impl]}`).join("  ")}</text>`,
    `<text x="${LABEL_WIDTH}" y="40" font-size="12">latency at the fixed rate, log scale:` +
      ` <tspan fill="${COLORS.p50}">■ p50</tspan> <tspan fill="${COLORS.p90}">■ p90</tspan> <tspan fill="${COLORS.p99}">■ p99</tspan></text>`,
    `<text x="${cpuX}" y="40" font-size="12"><tspan fill="${COLORS.cpu}">■</tspan> Envoy CPU per request (added over no filter)</text>`,
    latency.axis("milliseconds", bottom),
    linearAxis(cpuX, PANEL_WIDTH, cpuMax, "microseconds of Envoy CPU", bottom),
  ];
  summaries.forEach((s, index) => {
    const y = TOP + index * ROW;
    parts.push(`<rect x="4" y="${y + 8}" width="6" height="16" fill="${IMPL_MARK[s.impl] ?? "#999"}"/>`);
    const label = s.label.length > 64 ? s.label.slice(0, 63) + "…" : s.label;
    parts.push(`<text x="16" y="${y + 21}" font-size="12"><title>${escape(s.label)}</title>${escape(label)}</text>`);
    const bars: Array<[number, string]> = [[s.fixed.p50, COLORS.p50], [s.fixed.p90, COLORS.p90], [s.fixed.p99, COLORS.p99]];
    bars.forEach(([value, color], i) => {
      const w = Math.max(0.5, latency.position(value) - LABEL_WIDTH);
      parts.push(`<rect x="${LABEL_WIDTH}" y="${y + 4 + i * 9}" width="${w.toFixed(1)}" height="8" fill="${color}"><title>${escape(
        `${s.label}: ${["p50", "p90", "p99"][i]} ${value.toFixed(3)} ms`)}</title></rect>`);
    });
    const cpuWidth = Math.max(0.5, (PANEL_WIDTH * s.fixed.cpuUsPerRequest) / cpuMax);
    const added = s.added ? ` (${s.added.cpuUsPerRequest >= 0 ? "+" : ""}${s.added.cpuUsPerRequest.toFixed(1)})` : "";
    parts.push(`<rect x="${cpuX}" y="${y + 8}" width="${cpuWidth.toFixed(1)}" height="16" fill="${COLORS.cpu}"/>`);
    parts.push(`<text x="${cpuX + cpuWidth + 4}" y="${y + 21}" font-size="11">${s.fixed.cpuUsPerRequest.toFixed(1)}${added}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
