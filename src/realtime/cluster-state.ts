/**
 * Realtime state shared by every process on one Redis (REDIS_URL): presence, connection counts and caps, typing.
 *
 * Each count is kept twice: per process (`…:<family>:<processId>`, a hash of key → this process's count) and in
 * total (`…:<family>`, key → the sum over live processes), changed together by one Lua script, so a cap is checked
 * and taken in one atomic step whichever process asks. A process proves it is alive with `proc:<processId>`, a key
 * renewed every third of its TTL (the WebSocket keep-alive interval); every process sweeps on the same timer, and the
 * one whose script finds a dead process's key gone (the script runs atomically: one finder per death) subtracts its
 * entries and reports the keys that fell to zero (presence: a LEFT to publish). So a process killed without a word
 * takes its users' presence and connections with it within about one and a half keep-alive intervals.
 *
 * Redis down: every count falls back to this process's own (logged once) and the process keeps serving; when Redis
 * answers again the process writes its entries afresh (`replace`), announcing the presence that changed meanwhile.
 * The local counts are the truth of this process in both modes; Redis mirrors them.
 */
import { Redis } from 'ioredis';
import { closeRedis } from '../pubsub/redis.js';
import { processId as ownProcessId } from './process-id.js';

/** What is counted: signed-in and anonymous registered connections (`conn`), sockets not signed in (`anon`), presence. */
export type Family = 'conn' | 'anon' | 'presence';
const FAMILIES: readonly Family[] = ['conn', 'anon', 'presence'];

export interface ClusterLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface ClusterStateOptions {
  redisUrl: string;
  /** config.redisPrefix: every key below starts with it. */
  prefix: string;
  /** The liveness key's TTL: a dead process's entries go within about 1.5 × this. */
  livenessMs: number;
  /** Tests run several "processes" in one. */
  processId?: string;
}

/** Caps checked by `acquire`: at most `perKey` for the key and `total` for the family, over every process (0: none). */
export interface Caps {
  perKey?: number;
  total?: number;
}

export interface Acquired {
  admitted: boolean;
  /** The key had no entry anywhere before (presence: publish JOINED). */
  first: boolean;
  /** Which cap refused: the key's or the family's. */
  refusedBy?: 'key' | 'total';
}

/** Subtracts one process's entries of a family from the totals; returns the keys that fell to zero. */
const DROP = `
local function drop(totals, sum, family, held)
  local fell = {}
  local entries = redis.call('HGETALL', held)
  for i = 1, #entries, 2 do
    local key, count = entries[i], tonumber(entries[i + 1])
    redis.call('HINCRBY', sum, family, -count)
    if redis.call('HINCRBY', totals, key, -count) <= 0 then
      redis.call('HDEL', totals, key)
      fell[#fell + 1] = key
    end
  end
  redis.call('DEL', held)
  return fell
end
`;

/** KEYS: totals, this process's hash, sums. ARGV: family, key, per-key cap, family cap (0: none). → {admitted, total, refusedBy}. */
const ACQUIRE = `
local total = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
local perKey = tonumber(ARGV[3])
if perKey > 0 and total >= perKey then return {0, total, 1} end
local familyCap = tonumber(ARGV[4])
if familyCap > 0 and tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') >= familyCap then return {0, total, 2} end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return {1, redis.call('HINCRBY', KEYS[1], ARGV[2], 1), 0}
`;

/** Same KEYS and first ARGV as ACQUIRE. Decrements only what this process holds. → the key's total after. */
const RELEASE = `
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if held <= 0 then return tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') end
if held == 1 then redis.call('HDEL', KEYS[2], ARGV[2]) else redis.call('HINCRBY', KEYS[2], ARGV[2], -1) end
redis.call('HINCRBY', KEYS[3], ARGV[1], -1)
local total = redis.call('HINCRBY', KEYS[1], ARGV[2], -1)
if total > 0 then return total end
redis.call('HDEL', KEYS[1], ARGV[2])
return 0
`;

/** Same KEYS; ARGV: family, then key, count pairs: this process's entries as they are. → {keys that rose from 0, keys that fell to 0}. */
const REPLACE = `${DROP}
local fell = drop(KEYS[1], KEYS[3], ARGV[1], KEYS[2])
local gone = {}
for _, key in ipairs(fell) do gone[key] = true end
local rose = {}
for i = 2, #ARGV, 2 do
  local key, count = ARGV[i], tonumber(ARGV[i + 1])
  redis.call('HSET', KEYS[2], key, count)
  redis.call('HINCRBY', KEYS[3], ARGV[1], count)
  if redis.call('HINCRBY', KEYS[1], key, count) == count then
    if gone[key] then gone[key] = nil else rose[#rose + 1] = key end
  end
end
local down = {}
for _, key in ipairs(fell) do
  if gone[key] then down[#down + 1] = key end
end
return {rose, down}
`;

/**
 * KEYS: the process set. ARGV: key prefix, liveness prefix, the process to spare ('' for none), families. Every
 * process in the set whose liveness key is gone is removed (SREM inside the script: one sweeper per death) and its
 * entries subtracted. → "family\\nkey" of every key that fell to zero.
 */
const SWEEP = `${DROP}
local fell = {}
for _, pid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if pid ~= ARGV[3] and redis.call('EXISTS', ARGV[2] .. pid) == 0 then
    redis.call('SREM', KEYS[1], pid)
    for f = 4, #ARGV do
      local family = ARGV[f]
      for _, key in ipairs(drop(ARGV[1] .. family, ARGV[1] .. 'sum', family, ARGV[1] .. family .. ':' .. pid)) do
        fell[#fell + 1] = family .. '\\n' .. key
      end
    end
  end
end
return fell
`;

/** KEYS: liveness key, process set. ARGV: TTL ms, process id. → 1 when the process was not in the set (new, or swept). */
const HEARTBEAT = `
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return redis.call('SADD', KEYS[2], ARGV[2])
`;

/** KEYS: connection totals, sums. → {distinct signed-in users, registered connections}. */
const COUNTS = `
return {redis.call('HLEN', KEYS[1]) - redis.call('HEXISTS', KEYS[1], ''), tonumber(redis.call('HGET', KEYS[2], 'conn') or '0')}
`;

/**
 * One user's typing in one room (src/realtime/typing.ts has the rules). KEYS: the state hash. ARGV: '1' (typing),
 * '0' (stopped) or 't' (a timer's check), throttle ms, timeout ms. Redis's clock is the one clock of every process.
 * → {publish: -1 none, 0 or 1; ms until the next check is due, -1 none}.
 */
const TYPING = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local throttle, timeout = tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'p', 'd', 'l', 'e')
if not s[1] then
  if ARGV[1] ~= '1' then return {-1, -1} end
  s = {'0', '0', tostring(-throttle), '0'}
end
local published, desired, last, expires = tonumber(s[1]), tonumber(s[2]), tonumber(s[3]), tonumber(s[4])
if ARGV[1] == '1' then
  desired = 1
  expires = now + timeout
elseif ARGV[1] == '0' then
  desired = 0
  expires = 0
elseif expires > 0 and now >= expires then
  desired = 0
  expires = 0
end
local publish = -1
if desired ~= published and now >= last + throttle then
  published = desired
  last = now
  publish = published
end
if published == 0 and desired == 0 and expires == 0 and now >= last + throttle then
  redis.call('DEL', KEYS[1])
  return {publish, -1}
end
local nextAt = last + throttle
if desired == published and expires > 0 then nextAt = expires end
if desired ~= published and expires > 0 and expires < nextAt then nextAt = expires end
redis.call('HSET', KEYS[1], 'p', published, 'd', desired, 'l', last, 'e', expires)
redis.call('PEXPIRE', KEYS[1], math.max(nextAt - now, 0) + throttle + timeout + 1000)
return {publish, math.max(nextAt - now, 0)}
`;

const SCRIPTS = {
  opshubAcquire: { numberOfKeys: 3, lua: ACQUIRE },
  opshubRelease: { numberOfKeys: 3, lua: RELEASE },
  opshubReplace: { numberOfKeys: 3, lua: REPLACE },
  opshubSweep: { numberOfKeys: 1, lua: SWEEP },
  opshubHeartbeat: { numberOfKeys: 2, lua: HEARTBEAT },
  opshubCounts: { numberOfKeys: 2, lua: COUNTS },
  opshubTyping: { numberOfKeys: 1, lua: TYPING },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

/** The counts of one family, this process's and (through Redis) every process's. */
export class SharedCounter {
  /** This process's entries: their key, once admitted (or refused: null), settled or not. */
  private readonly entries = new Map<string, Promise<string | null>>();
  /** This process's admitted entries per key. */
  readonly local = new Map<string, number>();
  private localTotal = 0;

  constructor(
    private readonly cluster: ClusterState,
    readonly family: Family,
  ) {}

  /**
   * Counts entry `id` under `key` unless a cap is reached. Decided by Redis over every process while it answers, by
   * this process's own counts while it does not.
   */
  acquire(id: string, key: string, caps: Caps = {}): Promise<Acquired> {
    const decided = this.decide(key, caps).then((acquired) => {
      if (acquired.admitted) {
        this.local.set(key, (this.local.get(key) ?? 0) + 1);
        this.localTotal += 1;
      }
      return acquired;
    });
    this.entries.set(
      id,
      decided.then((acquired) => (acquired.admitted ? key : null)),
    );
    return decided;
  }

  /**
   * Uncounts entry `id` (nothing for an unknown or refused one; after the acquire when that is still on its way).
   * Resolves to whether it was the key's last entry anywhere (presence: publish LEFT), null when nothing was held.
   */
  release(id: string): Promise<boolean | null> {
    const entry = this.entries.get(id);
    if (!entry) return Promise.resolve(null);
    this.entries.delete(id);
    return entry.then(async (key) => {
      if (key === null) return null;
      const left = (this.local.get(key) ?? 1) - 1;
      if (left > 0) this.local.set(key, left);
      else this.local.delete(key);
      this.localTotal -= 1;
      const total = await this.cluster.run<number>('opshubRelease', this.keys(), [this.family, key]);
      return total === null ? left === 0 : total === 0;
    });
  }

  /** This process's admitted entries under `key`. */
  localCount(key: string): number {
    return this.local.get(key) ?? 0;
  }

  keys(): string[] {
    return this.cluster.familyKeys(this.family);
  }

  private async decide(key: string, caps: Caps): Promise<Acquired> {
    const reply = await this.cluster.run<[number, number, number]>('opshubAcquire', this.keys(), [
      this.family,
      key,
      caps.perKey ?? 0,
      caps.total ?? 0,
    ]);
    if (reply) {
      const [admitted, total, refusedBy] = reply;
      if (admitted === 1) return { admitted: true, first: total === 1 };
      return { admitted: false, first: false, refusedBy: refusedBy === 1 ? 'key' : 'total' };
    }
    // Local fallback: the same rules on this process's counts.
    const held = this.localCount(key);
    if (caps.perKey && held >= caps.perKey) return { admitted: false, first: false, refusedBy: 'key' };
    if (caps.total && this.localTotal >= caps.total) return { admitted: false, first: false, refusedBy: 'total' };
    return { admitted: true, first: held === 0 };
  }
}

export class ClusterState {
  readonly processId: string;
  private readonly redis: Redis;
  private readonly counters = new Map<Family, SharedCounter>();
  private readonly timer: NodeJS.Timeout;
  /** Redis holds this process's entries as they are: commands go to Redis. False: local counting until re-registered. */
  private synced = false;
  private outageLogged = false;
  private log: ClusterLog | null = null;
  private closed = false;
  /** Cluster-wide connection counts as last read (the metrics gauges read them synchronously). */
  private lastCounts: { onlineUsers: number; connections: number } | null = null;
  /** Keys whose total rose from zero or fell to zero outside an acquire or release (re-registration, a sweep). */
  private readonly listeners: Array<(family: Family, key: string, present: boolean) => void> = [];

  constructor(private readonly options: ClusterStateOptions) {
    this.processId = options.processId ?? ownProcessId;
    // No offline queue: while Redis is unreachable a command fails at once and the caller counts locally, instead of
    // holding a connection's admission until Redis returns. A second without an answer counts as unreachable too.
    this.redis = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
    for (const [name, script] of Object.entries(SCRIPTS)) this.redis.defineCommand(name, script);
    this.redis.on('error', (error: unknown) => this.failed(error));
    this.redis.on('ready', () => void this.resync());
    for (const family of FAMILIES) this.counters.set(family, new SharedCounter(this, family));
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.floor(options.livenessMs / 3)));
    this.timer.unref();
  }

  /** The connection, for other shared state (the chat message limit's store). */
  get client(): Redis {
    return this.redis;
  }

  counter(family: Family): SharedCounter {
    return this.counters.get(family)!;
  }

  /** Hears keys that appeared or disappeared through re-registration or a sweep of a dead process. */
  onChange(listener: (family: Family, key: string, present: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Log lines from here on go to `log` (an outage seen before it is reported now). */
  setLog(log: ClusterLog): void {
    this.log = log;
    if (this.outageLogged) log.warn({ component: 'cluster' }, 'redis unreachable: realtime state counted per process until it returns');
  }

  /** Redis answers and holds this process's entries. */
  get usable(): boolean {
    return this.synced && this.redis.status === 'ready' && !this.closed;
  }

  /** Users with an open connection and registered connections, over every process (this process's while Redis is down). */
  async counts(): Promise<{ onlineUsers: number; connections: number } | null> {
    const reply = await this.run<[number, number]>('opshubCounts', [this.key('conn'), this.key('sum')], []);
    if (!reply) return null;
    this.lastCounts = { onlineUsers: reply[0], connections: reply[1] };
    return this.lastCounts;
  }

  /** The counts as last read (refreshed on every liveness tick); null while Redis is down. */
  get cachedCounts(): { onlineUsers: number; connections: number } | null {
    return this.usable ? this.lastCounts : null;
  }

  /** The typing script for one user and room; null while Redis is down (the caller tracks typing locally). */
  typing(roomId: string, userId: string, mode: '1' | '0' | 't', throttleMs: number, timeoutMs: number) {
    return this.run<[number, number]>('opshubTyping', [this.key(`typing:${roomId}:${userId}`)], [mode, throttleMs, timeoutMs]);
  }

  async forgetTyping(roomId: string, userId: string): Promise<void> {
    if (!this.usable) return;
    await this.redis.del(this.key(`typing:${roomId}:${userId}`)).catch((error: unknown) => this.failed(error));
  }

  familyKeys(family: Family): string[] {
    return [this.key(family), this.key(`${family}:${this.processId}`), this.key('sum')];
  }

  /** Runs a script, or answers null (and counts locally until re-registered) when Redis is down or fails. */
  async run<T>(name: ScriptName, keys: string[], args: Array<string | number>): Promise<T | null> {
    if (!this.usable) return null;
    try {
      return (await this.script(name)(...keys, ...args)) as T;
    } catch (error) {
      this.failed(error);
      return null;
    }
  }

  /** Removes this process's entries and liveness key (graceful shutdown) and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    if (this.usable) {
      try {
        await this.redis.del(this.livenessKey(this.processId));
        await this.sweep('');
      } catch {
        // The liveness key expires and another process sweeps the entries.
      }
    }
    this.closed = true;
    await closeRedis(this.redis);
  }

  private script(name: ScriptName): ScriptCall {
    return (this.redis as unknown as Record<ScriptName, ScriptCall>)[name].bind(this.redis);
  }

  private key(name: string): string {
    return `${this.options.prefix}cluster:${name}`;
  }

  private livenessKey(processId: string): string {
    return `${this.options.prefix}proc:${processId}`;
  }

  private failed(error: unknown): void {
    this.synced = false;
    if (this.outageLogged || this.closed) return;
    this.outageLogged = true;
    this.log?.warn({ err: error, component: 'cluster' }, 'redis unreachable: realtime state counted per process until it returns');
  }

  /**
   * Writes this process's entries afresh: its liveness key, then every family's entries as the local counts have
   * them. Both scripts are sent before any later command (one connection keeps order), so from here on commands go to
   * Redis again.
   */
  private async resync(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    const sent = [
      this.script('opshubHeartbeat')(this.livenessKey(this.processId), this.key('procs'), this.options.livenessMs, this.processId),
      ...FAMILIES.map((family) => {
        const pairs = [...this.counter(family).local].flatMap(([key, count]) => [key, count]);
        return this.script('opshubReplace')(...this.familyKeys(family), family, ...pairs).then((reply) => {
          const [rose, fell] = reply as [string[], string[]];
          for (const key of rose) this.emit(family, key, true);
          for (const key of fell) this.emit(family, key, false);
        });
      }),
    ];
    this.synced = true;
    try {
      await Promise.all(sent);
      if (this.outageLogged) this.log?.info({ component: 'cluster' }, 'redis reachable again: realtime state re-registered');
      this.outageLogged = false;
    } catch (error) {
      this.failed(error);
    }
  }

  /** Renews the liveness key, sweeps dead processes and refreshes the cached counts; re-registers when needed. */
  private async tick(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    if (!this.synced) return this.resync();
    const added = await this.run<number>(
      'opshubHeartbeat',
      [this.livenessKey(this.processId), this.key('procs')],
      [this.options.livenessMs, this.processId],
    );
    // Swept while alive (paused past the TTL, or Redis lost its data): the entries must be written again.
    if (added === 1) {
      this.synced = false;
      return this.resync();
    }
    await this.sweep(this.processId).catch((error: unknown) => this.failed(error));
    await this.counts();
  }

  private async sweep(spare: string): Promise<void> {
    const fell = await this.script('opshubSweep')(this.key('procs'), this.key(''), this.livenessKey(''), spare, ...FAMILIES);
    for (const entry of fell as string[]) {
      const [family, key] = entry.split('\n') as [Family, string];
      this.emit(family, key, false);
    }
  }

  private emit(family: Family, key: string, present: boolean): void {
    for (const listener of this.listeners) listener(family, key, present);
  }
}
