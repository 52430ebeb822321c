// Coalesces bursts of config changes into one push, the way istiod does (PILOT_DEBOUNCE_AFTER = 100 ms of quiet,
// PILOT_DEBOUNCE_MAX = 10 s): a push runs once no change arrived for `quietMs`, or at the latest `maxMs` after the
// first change of a burst, so a steady trickle of edits cannot postpone pushes forever.

export interface DebounceOptions {
  quietMs: number;
  maxMs: number;
}

export const ISTIO_DEBOUNCE: DebounceOptions = { quietMs: 100, maxMs: 10_000 };

export class Debouncer {
  private quietTimer: NodeJS.Timeout | null = null;
  private firstChangeAt = 0;
  private running: Promise<void> | null = null;
  private pendingWhileRunning = false;

  constructor(private readonly action: () => Promise<void>, private readonly options: DebounceOptions = ISTIO_DEBOUNCE) {}

  /** Records a change; the action runs after the burst settles. */
  trigger(): void {
    if (this.running) {
      // A push is under way: run once more when it ends, with everything that changed meanwhile.
      this.pendingWhileRunning = true;
      return;
    }
    const now = Date.now();
    if (!this.quietTimer) this.firstChangeAt = now;
    else clearTimeout(this.quietTimer);
    const untilMax = this.firstChangeAt + this.options.maxMs - now;
    this.quietTimer = setTimeout(() => this.fire(), Math.max(0, Math.min(this.options.quietMs, untilMax)));
  }

  /** Runs the action now if a change is waiting (used at shutdown and by tests). */
  async flush(): Promise<void> {
    if (this.quietTimer) {
      clearTimeout(this.quietTimer);
      await this.fire();
    } else if (this.running) {
      await this.running;
    }
  }

  cancel(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = null;
    this.pendingWhileRunning = false;
  }

  private async fire(): Promise<void> {
    this.quietTimer = null;
    this.running = this.action().finally(() => {
      this.running = null;
      if (this.pendingWhileRunning) {
        this.pendingWhileRunning = false;
        this.trigger();
      }
    });
    await this.running;
  }
}
