/** One sample of a metric on a Prometheus text page: its labels and its value. */
export interface PrometheusSample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of the metric `name` on a Prometheus text exposition page (`GET /metrics`); comments are skipped. */
export function samplesOf(page: string, name: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const line of page.split('\n')) {
    if (!line.startsWith(name)) continue;
    const sample = /^(?:\{(.*)\})?\s+(\S+)/.exec(line.slice(name.length));
    if (!sample) continue; // another metric whose name starts with this one
    const labels: Record<string, string> = {};
    for (const [, key, value] of (sample[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[key] = value;
    samples.push({ labels, value: Number(sample[2]) });
  }
  return samples;
}
