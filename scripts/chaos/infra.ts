import { connect } from 'amqplib';
import { execFile } from 'node:child_process';
import { Client } from 'pg';

/**
 * The PostgreSQL side of the run: an admin connection (to a database that is not a chaos database, so that the
 * db drops never cut it), the run lock, the drops themselves, and connections for the final checks.
 */
export class Postgres {
  private constructor(
    private readonly admin: Client,
    private readonly adminUrl: string,
  ) {}

  static async connect(adminUrl: string): Promise<Postgres> {
    const admin = new Client({ connectionString: adminUrl });
    try {
      await admin.connect();
    } catch (error) {
      throw new Error(
        `PostgreSQL is not reachable at ${adminUrl} (${String(error)}): start it, or set PG_ADMIN_URL.`,
        { cause: error },
      );
    }
    admin.on('error', () => undefined);
    return new Postgres(admin, adminUrl);
  }

  /**
   * Takes a session-level advisory lock named after the tag, so that two runs with the same tag (and so the
   * same databases and queues) never overlap: the second waits.
   */
  async lock(tag: string, report: (line: string) => void, timeoutMs = 15 * 60_000): Promise<void> {
    const name = `nestjs-saga chaos ${tag}`;
    const deadline = Date.now() + timeoutMs;
    let told = false;
    for (;;) {
      const { rows } = await this.admin.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [name],
      );
      if (rows[0].locked) return;
      if (!told) report(`another chaos run with tag '${tag}' is in progress: waiting for it`);
      told = true;
      if (Date.now() > deadline) throw new Error(`another chaos run with tag '${tag}' did not finish`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  /** Drops and creates the databases; returns each one's URL. */
  async freshDatabases(names: readonly string[]): Promise<Record<string, string>> {
    const urls: Record<string, string> = {};
    for (const name of names) {
      await this.admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await this.admin.query(`CREATE DATABASE "${name}"`);
      urls[name] = this.urlOf(name);
    }
    return urls;
  }

  /** Terminates every session of these databases; returns how many. */
  async terminateSessions(databases: readonly string[]): Promise<number> {
    const { rows } = await this.admin.query<{ terminated: boolean }>(
      'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity ' +
        'WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
      [databases],
    );
    return rows.filter((r) => r.terminated).length;
  }

  /** A new connection to one database (for the checks, after the faults). */
  async open(database: string): Promise<Client> {
    const client = new Client({ connectionString: this.urlOf(database) });
    await client.connect();
    client.on('error', () => undefined);
    return client;
  }

  async close(): Promise<void> {
    await this.admin.end().catch(() => undefined);
  }

  private urlOf(database: string): string {
    const url = new URL(this.adminUrl);
    url.pathname = `/${database}`;
    return url.toString();
  }
}

export interface QueueDepth {
  name: string;
  /** Ready and unacknowledged. */
  messages: number;
}

export interface DeadLetter {
  queue: string;
  reason: string;
  body: string;
}

/**
 * The RabbitMQ side of the run, in a virtual host of its own: `rabbitmqctl close_all_connections` then drops the
 * run's connections only — other users of the broker (tests running beside the chaos run) keep theirs.
 */
export class Broker {
  readonly vhostUrl: string;
  private readonly user: string;

  constructor(
    amqpUrl: string,
    readonly vhost: string,
  ) {
    const url = new URL(amqpUrl);
    url.pathname = `/${encodeURIComponent(vhost)}`;
    this.vhostUrl = url.toString();
    this.user = decodeURIComponent(url.username || 'guest');
  }

  /** Deletes the virtual host (with every queue and exchange in it) and creates it empty. */
  async freshVhost(): Promise<void> {
    await this.ctl(['list_vhosts']).catch((error: unknown) => {
      throw new Error(`rabbitmqctl does not work here (${String(error)}): is RabbitMQ running locally?`, {
        cause: error,
      });
    });
    await this.deleteVhost();
    await this.ctl(['add_vhost', this.vhost]);
    await this.ctl(['set_permissions', '-p', this.vhost, this.user, '.*', '.*', '.*']);
    const probe = await connect(this.vhostUrl).catch((error: unknown) => {
      throw new Error(`RabbitMQ is not reachable at ${redact(this.vhostUrl)} (${String(error)})`, {
        cause: error,
      });
    });
    await probe.close();
  }

  async deleteVhost(): Promise<void> {
    const vhosts = (await this.ctl(['list_vhosts', '--no-table-headers'])).split('\n').map((l) => l.trim());
    if (vhosts.includes(this.vhost)) await this.ctl(['delete_vhost', this.vhost]);
  }

  /** Forcibly closes every connection of the virtual host. */
  async closeAllConnections(): Promise<void> {
    await this.ctl(['close_all_connections', '--vhost', this.vhost, 'chaos']);
  }

  async queueDepths(): Promise<QueueDepth[]> {
    const out = await this.ctl(['list_queues', '-p', this.vhost, 'name', 'messages', '--no-table-headers']);
    return out
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => {
        const [name, messages] = line.trim().split(/\s+/);
        return { name, messages: Number(messages) };
      });
  }

  /** Reads (and leaves) the messages of the dead-letter queues, with the reason the transport gave. */
  async deadLetters(queues: readonly string[]): Promise<DeadLetter[]> {
    const connection = await connect(this.vhostUrl);
    try {
      const channel = await connection.createChannel();
      const letters: DeadLetter[] = [];
      for (const queue of queues) {
        for (;;) {
          const msg = await channel.get(queue, { noAck: false });
          if (msg === false) break;
          const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
          const reasonHeader = headers['x-saga-reject-reason'];
          const reason =
            typeof reasonHeader === 'string'
              ? reasonHeader
              : `no reason header, x-death ${JSON.stringify(headers['x-death'])}`;
          letters.push({ queue, reason, body: msg.content.toString().slice(0, 400) });
        }
      }
      await channel.close();
      return letters;
    } finally {
      await connection.close();
    }
  }

  private ctl(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('rabbitmqctl', ['-q', ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`rabbitmqctl ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      });
    });
  }
}

export function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
