import { samplesOf } from '../lib/prometheus';
import type { ServiceProcess } from './services';

type Outcome = 'right' | 'stale' | 'duplicate';
const OUTCOMES: readonly Outcome[] = ['right', 'stale', 'duplicate'];

/** `saga_coordinator_guesses_total` by `saga_guess`, read from a Prometheus text page. */
export function parseGuesses(page: string): Record<Outcome, number> {
  const counts: Record<Outcome, number> = { right: 0, stale: 0, duplicate: 0 };
  for (const { labels, value } of samplesOf(page, 'saga_coordinator_guesses_total')) {
    const outcome = labels.saga_guess as Outcome | undefined;
    if (outcome && OUTCOMES.includes(outcome)) counts[outcome] += value;
  }
  return counts;
}

/**
 * How often the coordinators' guesses (replies applied ahead of reading their sagas, `sideEffects: false`) proved
 * wrong under chaos. Each order replica's `/metrics` is scraped every few seconds; a killed replica's counters die
 * with it, so the last scrape of each incarnation (process id) is kept and they are summed: what an incarnation
 * counted after its last scrape is missed.
 */
export class GuessTally {
  private readonly last = new Map<string, Record<Outcome, number>>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly coordinators: readonly ServiceProcess[]) {}

  start(everyMs = 3_000): void {
    this.timer = setInterval(() => void this.scrape(), everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.scrape();
  }

  /** Reads every replica that answers; one that is down or restarting is skipped. */
  async scrape(): Promise<void> {
    await Promise.all(
      this.coordinators.map(async (s) => {
        const pid = s.pid;
        if (pid === undefined) return;
        try {
          const res = await fetch(`${s.url}/metrics`, { signal: AbortSignal.timeout(2_000) });
          if (res.ok) this.last.set(`${s.id}:${pid}`, parseGuesses(await res.text()));
        } catch {
          // down or restarting: its previous scrape stands
        }
      }),
    );
  }

  /** E.g. `right 812, stale 3, duplicate 1 (0.5 % wrong) over 5 incarnations`. */
  summary(): string {
    const total: Record<Outcome, number> = { right: 0, stale: 0, duplicate: 0 };
    for (const counts of this.last.values()) for (const o of OUTCOMES) total[o] += counts[o];
    const all = total.right + total.stale + total.duplicate;
    const wrong = all === 0 ? 'none made' : `${(((all - total.right) / all) * 100).toFixed(1)} % wrong`;
    return (
      `right ${total.right}, stale ${total.stale}, duplicate ${total.duplicate} (${wrong}) ` +
      `over ${this.last.size} coordinator incarnations`
    );
  }
}
