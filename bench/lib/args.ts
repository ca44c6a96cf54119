import { DEFAULT_AMQP_URL } from './broker';
import type { BenchOptions } from './runner';

export interface CliOptions extends BenchOptions {
  /** JSON file written with every figure. */
  out: string;
  /** Variant names to run, in order (`--variants baseline,saga`); undefined: the entry point's default. */
  variants?: string[];
  /** Finished sagas preloaded for the growth run (`--growth N`, default 20000; 0: no growth run by default). */
  growthSagas: number;
  /**
   * Rounds of the interleaved baseline/saga measurement at concurrency 1 (`--interleave N`, default 8; 0: none),
   * run after the variants when both `baseline` and `saga` are among them.
   */
  interleaveRounds: number;
}

const USAGE =
  'options: --count N (2000) --warmup N (100) --concurrency 1,16,64 --out FILE --settle-ms N (250) ' +
  '--quiet-wait-s N (30) --variants a,b --growth N (20000) --interleave N (8) --quick (= --count 200 --warmup 20)';

/** Parses the command line of the bench entry points. AMQP_URL and PG* variables select the services. */
export function parseBenchArgs(argv: string[], defaultOut: string): CliOptions {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (
      !argv[i].startsWith('--') ||
      !/^(count|warmup|concurrency|out|settle-ms|quiet-wait-s|variants|growth|interleave|quick)$/.test(key)
    ) {
      throw new Error(`unexpected argument: ${argv[i]}\n${USAGE}`);
    }
    if (key === 'quick') args.set(key, 'true');
    else args.set(key, argv[++i] ?? '');
  }
  const quick = args.has('quick');
  const int = (key: string, fallback: number, min: number): number => {
    const n = Number(args.get(key) ?? fallback);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${key} must be a whole number >= ${min}`);
    return n;
  };
  const concurrencies = (args.get('concurrency') ?? '1,16,64').split(',').map(Number);
  if (concurrencies.some((c) => !Number.isInteger(c) || c < 1))
    throw new Error('--concurrency: e.g. 1,16,64');
  return {
    concurrencies,
    count: int('count', quick ? 200 : 2000, 1),
    warmup: int('warmup', quick ? 20 : 100, 0),
    settleMs: int('settle-ms', 250, 0),
    quietWaitSeconds: int('quiet-wait-s', 30, 0),
    amqpUrl: process.env.AMQP_URL ?? DEFAULT_AMQP_URL,
    out: args.get('out') ?? defaultOut,
    variants: args.get('variants')?.split(','),
    growthSagas: int('growth', 20_000, 0),
    interleaveRounds: int('interleave', 8, 0),
  };
}
