/**
 * The only module that reads the environment. Every variable is parsed and validated once, here; a bad value stops
 * the process with a message naming the variable. The README's configuration table lists the same variables.
 */
import { createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import {
  databaseDefaults,
  defaultLimits,
  fileDefaults,
  discountCodeDefaults,
  productionLimits,
  rateLimitDefaults,
  type DiscountCodes,
  type FilePurpose,
  type OperationLimits,
  type RateLimitConfig,
} from './config-defaults.js';

// The defaults and their types are part of this module: everything else imports them from here.
export * from './config-defaults.js';

export type NodeEnv = 'development' | 'production' | 'test';

export interface Config {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  /**
   * Processes serving `port` together (node:cluster, src/cluster.ts); 1 runs the server in this process. Above 1 needs
   * REDIS_URL and DATABASE_URL: the workers share events, presence and limits through Redis, data and jobs through
   * PostgreSQL.
   */
  workers: number;
  /** postgres:// URL; when unset, embedded PGlite in `dataDir` (or in memory when `dataDir` is null). */
  databaseUrl: string | null;
  /** PostgreSQL `statement_timeout` of every pooled connection, in ms; 0 turns it off. PGlite has none. */
  statementTimeoutMs: number;
  dataDir: string | null;
  redisUrl: string | null;
  /**
   * Prefix of every Redis key and pub/sub channel OpsHub uses (`opshub:`): deployments (or test runs) sharing one
   * Redis keep apart by giving each its own.
   */
  redisPrefix: string;
  logLevel: string;
  corsOrigins: string[];
  /**
   * Proxies whose `X-Forwarded-For` names the client (Fastify's `trustProxy` semantics): false trusts none, true
   * every one, a number that many hops, a list these addresses, CIDRs or `loopback`/`linklocal`/`uniquelocal`.
   */
  trustProxy: boolean | number | string[];
  /** Node's HTTP server timeouts, so a slow or silent client cannot hold a connection. */
  http: {
    /** The whole request, headers and body, must arrive within this (then 408). */
    requestTimeoutMs: number;
    /** The headers must arrive within this. */
    headersTimeoutMs: number;
    /** A connection with no traffic at all for this long is closed (SSE streams send a comment every 12 s). */
    connectionTimeoutMs: number;
    /** An idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: number;
  };
  /** Create demo data on an empty database at start-up. */
  seedDemoData: boolean;
  /** Adds `extensions.sql = { statements, ms }` to every response; refused in production. */
  debugSql: boolean;
  /**
   * OpenTelemetry spans (src/tracing.ts): per operation, SQL statement and job run. On when TRACING is true, or by
   * default when OTEL_EXPORTER_OTLP_ENDPOINT names a collector (the OTLP/HTTP exporter reads the OTEL_* variables).
   */
  tracing: boolean;
  /** Bearer token of `GET /metrics`; in production `/metrics` exists only when it is set (src/server/metrics.ts). */
  metricsToken: string | null;
  jwt: {
    secret: string | null;
    /** From JWT_PRIVATE_KEY and JWT_PUBLIC_KEY (PEM text or the path of a PEM file), read and checked at load. */
    keyPair: SigningKeyPair | null;
    issuer: string;
    audience: string;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    /** How long a successful user + session check is reused (AUTH_CACHE_TTL_MS); 0: never (src/auth/identity.ts). */
    authCacheTtlMs: number;
  };
  admin: { email: string | null; password: string | null };
  /** Password checks allowed per account, and per client address, per window (see src/auth/login-limiter.ts). */
  loginRateLimit: { maxAttempts: number; maxAttemptsPerAddress: number; windowMs: number };
  introspection: boolean;
  graphiql: boolean;
  /** Serve the live operations page at GET /dashboard even with GraphiQL off (it is served whenever GraphiQL is on). */
  dashboard: boolean;
  /** Operation limits (depth, aliases, tokens, directives, root fields, document size, cost, repeated fields). */
  limits: OperationLimits;
  /** Cost-based budgets per window: per user by role, per client IP when anonymous. */
  rateLimit: RateLimitConfig;
  /** graphql-ws: ms a socket may stay open before `connection_init` (then 4408). */
  wsConnectionInitTimeoutMs: number;
  /** Path of a trusted-documents manifest (hash → document); when set, only those operations run. */
  trustedDocuments: string | null;
  shutdownGraceMs: number;
  /** Discount codes `placeOrder` accepts: code → percent off. */
  discountCodes: DiscountCodes;
  jobs: {
    concurrency: number;
    cleanupIntervalMs: number;
    pollIntervalMs: number;
    leaseMs: number;
    /** First retry delay; each further attempt waits twice as long. */
    retryBaseMs: number;
    /** Simulated delivery time per e-mail recipient (0: none). */
    emailDelayMs: number;
    /** Running jobs one owner may hold across all processes; in one process also at most `concurrency − 1` (min. 1). */
    concurrencyPerOwner: number;
    /** PENDING jobs one user may have queued; starting one more is a user error. */
    maxQueuedPerUser: number;
  };
  /** Staged uploads, file limits and storage (see the README's files table). */
  files: {
    /** Where file bytes live: PostgreSQL chunk rows, or an S3-compatible bucket (`s3` below). */
    storage: 'postgres' | 's3';
    /** HMAC key of signed URLs; null: a key generated per process. */
    urlSecret: string | null;
    uploadUrlTtlSeconds: number;
    downloadUrlTtlSeconds: number;
    maxBytes: Record<FilePurpose, number>;
    maxPerEntity: number;
    userQuotaBytes: number;
    orphanGraceMs: number;
    s3: S3Config | null;
  };
  /** Chat, presence and graphql-ws connection limits (see the README's realtime table). */
  realtime: {
    /** graphql-ws ping interval; a socket that has not answered a ping by the next one is terminated. */
    keepAliveMs: number;
    /** A socket whose unsent outgoing data exceeds this is dropped (terminated). */
    maxBufferedBytes: number;
    /** Undelivered events one subscription may hold before its connection is dropped. */
    subscriptionQueueLimit: number;
    maxSubscriptionsPerConnection: number;
    maxConnectionsPerUser: number;
    /** WebSockets not signed in (before or without a user's token) one client address may hold at once. */
    maxAnonymousPerAddress: number;
    /** WebSockets not signed in the process holds at once, all addresses together. */
    maxAnonymous: number;
    /** sendMessage and sendDirectMessage: at most `messageLimit` per user in any `messageWindowMs`. */
    messageLimit: number;
    messageWindowMs: number;
    /** At most one TypingChanged per user and room per `typingThrottleMs`; cleared after `typingTimeoutMs`. */
    typingThrottleMs: number;
    typingTimeoutMs: number;
    /** A subscription's `after` cursor (or SSE `Last-Event-ID`) older than this is CURSOR_EXPIRED. */
    streamRetentionMs: number;
    /** At most this many stored events are replayed to a resuming subscription; a cursor further back is CURSOR_EXPIRED. */
    streamReplayMax: number;
  };
}

export interface S3Config {
  bucket: string;
  /** An S3-compatible endpoint (MinIO, s3rver, …); null: AWS for `region`. */
  endpoint: string | null;
  region: string;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key` (most S3-compatible servers need it). */
  forcePathStyle: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

/**
 * Discount codes. A format of `^[A-Z]{4}\d{2}$` would reject the built-in OFFER30, so the format allows four
 * or five letters: every listed code is then valid. `placeOrder` checks a requested code against the same pattern.
 */
export const DISCOUNT_CODE_PATTERN = /^[A-Z]{4,5}\d{2}$/;

/** JWS algorithms of a key pair (a shared JWT_SECRET signs with HS256). */
export type KeyPairAlgorithm = 'EdDSA' | 'ES256' | 'RS256';

export interface SigningKeyPair {
  alg: KeyPairAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * The algorithm a private key signs access tokens with: EdDSA for Ed25519, ES256 for P-256, RS256 for RSA of at least
 * 2048 bits (the minimum of RFC 7518 §3.3); any other key is refused, naming `variable`.
 */
export function keyPairAlgorithm(privateKey: KeyObject, variable: string): KeyPairAlgorithm {
  switch (privateKey.asymmetricKeyType) {
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      if (privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
      throw new ConfigError(variable, 'must use the P-256 curve when it is an EC key');
    case 'rsa':
      if ((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) >= 2_048) return 'RS256';
      throw new ConfigError(variable, 'must be an RSA key of at least 2048 bits');
    default:
      throw new ConfigError(variable, `must be an Ed25519, P-256 or RSA key, got ${privateKey.asymmetricKeyType}`);
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/**
 * WORKERS: an integer, or `auto` for the machine's available parallelism (`npm run start:cluster` passes `auto` when
 * it is unset). More than one worker needs a server that every process can share: Redis for events, presence and
 * limits, PostgreSQL for data and jobs (an embedded PGlite directory belongs to one process).
 */
function workers(env: Env, redisUrl: string | null, databaseUrl: string | null): number {
  const raw = str(env, 'WORKERS')?.toLowerCase();
  if (raw !== undefined && raw !== 'auto' && !/^-?\d+$/.test(raw))
    throw new ConfigError('WORKERS', `must be an integer or auto, got "${raw}"`);
  const count = raw === 'auto' ? availableParallelism() : int(env, 'WORKERS', 1, 1, 256);
  if (count > 1 && redisUrl === null) {
    throw new ConfigError('WORKERS', `is ${count}, and more than one worker needs REDIS_URL (events, presence and limits live in Redis)`);
  }
  if (count > 1 && databaseUrl === null) {
    throw new ConfigError(
      'WORKERS',
      `is ${count}, and more than one worker needs DATABASE_URL (embedded PGlite's DATA_DIR belongs to one process)`,
    );
  }
  return count;
}

function redisPrefix(env: Env, name: string): string {
  const value = str(env, name) ?? 'opshub:';
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(value)) throw new ConfigError(name, 'must be 1–64 letters, digits or ":_.-"');
  return value;
}

function url(env: Env, name: string, protocols: readonly string[]): string | null {
  const raw = str(env, name);
  if (raw === undefined) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw;
}

function trustProxy(env: Env, name: string): boolean | number | string[] {
  const raw = str(env, name);
  if (raw === undefined || ['false', '0', 'no', 'off'].includes(raw.toLowerCase())) return false;
  if (['true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (/^\d+$/.test(raw)) return int(env, name, 0, 1, 100);
  const list = raw.split(',').map((entry) => entry.trim());
  for (const entry of list) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const bits = isIP(address) === 6 ? 128 : 32;
    const valid =
      ['loopback', 'linklocal', 'uniquelocal'].includes(entry) ||
      (isIP(address) !== 0 && rest.length === 0 && (prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= bits)));
    if (!valid)
      throw new ConfigError(
        name,
        `must be true, false, a hop count or a list of addresses, CIDRs or loopback/linklocal/uniquelocal, got "${entry}"`,
      );
  }
  return list;
}

function origins(env: Env, name: string): string[] {
  const raw = str(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((origin) => {
    const value = origin.trim();
    if (value === '*') return value;
    try {
      const parsed = new URL(value);
      if (parsed.origin !== value) throw new Error('not an origin');
    } catch {
      throw new ConfigError(name, `must be a comma-separated list of origins like https://app.example.com, got "${value}"`);
    }
    return value;
  });
}

function operationLimits(env: Env, base: OperationLimits): OperationLimits {
  return {
    depth: int(env, 'LIMIT_DEPTH', base.depth, 1, 1_000),
    aliases: int(env, 'LIMIT_ALIASES', base.aliases, 0, 100_000),
    tokens: int(env, 'LIMIT_TOKENS', base.tokens, 10, 1_000_000),
    directives: int(env, 'LIMIT_DIRECTIVES', base.directives, 0, 100_000),
    rootFields: int(env, 'LIMIT_ROOT_FIELDS', base.rootFields, 1, 1_000),
    documentBytes: int(env, 'LIMIT_DOCUMENT_BYTES', base.documentBytes, 100, 1_048_576),
    cost: int(env, 'LIMIT_COST', base.cost, 1, 100_000_000),
    repeatedFields: int(env, 'LIMIT_REPEATED_FIELDS', base.repeatedFields, 1, 10_000),
  };
}

/** `CODE:percent,CODE:percent`, each code matching DISCOUNT_CODE_PATTERN. */
function discountCodes(env: Env): DiscountCodes {
  const raw = str(env, 'DISCOUNT_CODES');
  if (raw === undefined) return discountCodeDefaults;
  const codes = new Map<string, number>();
  for (const entry of raw.split(',')) {
    const match = /^\s*([^:\s]+)\s*:\s*(\d{1,3})\s*$/.exec(entry);
    if (!match) throw new ConfigError('DISCOUNT_CODES', `must be a comma-separated list of CODE:percent, got "${entry.trim()}"`);
    const [, code, percentText] = match as unknown as [string, string, string];
    const percent = Number(percentText);
    if (!DISCOUNT_CODE_PATTERN.test(code)) {
      throw new ConfigError('DISCOUNT_CODES', `has a code that does not match ${DISCOUNT_CODE_PATTERN.source}: "${code}"`);
    }
    if (percent < 1 || percent > 100) throw new ConfigError('DISCOUNT_CODES', `has a percent outside 1..100 for ${code}`);
    codes.set(code, percent);
  }
  return codes;
}

/**
 * A key variable's PEM text: the value itself, or the content of the file it names. The value is never echoed in the
 * error: a private key pasted without its PEM header would otherwise end up in the logs.
 */
function pemText(name: string, value: string): string {
  let text = value;
  if (!value.includes('-----BEGIN')) {
    try {
      text = readFileSync(value, 'utf8');
    } catch {
      throw new ConfigError(name, 'must be a PEM key or the path of a readable PEM file');
    }
  }
  // Environment files often carry PEM newlines as `\n`.
  return text.replace(/\\n/g, '\n');
}

/** JWT_PRIVATE_KEY and JWT_PUBLIC_KEY, read and checked now, so a bad key stops the process before anything starts. */
function signingKeyPair(privateValue: string, publicValue: string): SigningKeyPair {
  const privatePem = pemText('JWT_PRIVATE_KEY', privateValue);
  const publicPem = pemText('JWT_PUBLIC_KEY', publicValue);
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  try {
    privateKey = createPrivateKey(privatePem);
  } catch {
    throw new ConfigError('JWT_PRIVATE_KEY', 'is not a readable PEM private key');
  }
  // createPublicKey() also accepts a private key (it derives the public half): refuse one, it has no place here.
  if (/PRIVATE KEY-----/.test(publicPem)) throw new ConfigError('JWT_PUBLIC_KEY', 'must be a public key, got a private key');
  try {
    publicKey = createPublicKey(publicPem);
  } catch {
    throw new ConfigError('JWT_PUBLIC_KEY', 'is not a readable PEM public key');
  }
  const alg = keyPairAlgorithm(privateKey, 'JWT_PRIVATE_KEY');
  const derived = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (!derived.equals(publicKey.export({ format: 'der', type: 'spki' }))) {
    throw new ConfigError('JWT_PUBLIC_KEY', 'does not belong to JWT_PRIVATE_KEY');
  }
  return { alg, privateKey, publicKey };
}

/**
 * The key of signed file URLs: FILE_URL_SECRET, or one derived from JWT_SECRET (HKDF-SHA256, its own label, so neither
 * key reveals the other) — every process that shares the JWT secret then accepts the others' URLs. Null without
 * either: the signer generates a key for its process.
 */
function fileUrlSecret(env: Env, jwtSecret: string | null): string | null {
  const secret = str(env, 'FILE_URL_SECRET') ?? null;
  if (secret !== null && Buffer.byteLength(secret) < 32) throw new ConfigError('FILE_URL_SECRET', 'must be at least 32 bytes');
  if (secret !== null || jwtSecret === null) return secret;
  return Buffer.from(hkdfSync('sha256', jwtSecret, 'opshub', 'signed file URLs', 32)).toString('hex');
}

function fileConfig(env: Env, jwtSecret: string | null): Config['files'] {
  const urlSecret = fileUrlSecret(env, jwtSecret);
  const storage = oneOf(env, 'FILE_STORAGE', ['postgres', 's3'] as const, 'postgres');
  const maxBytes = int(env, 'FILE_MAX_BYTES', fileDefaults.maxBytes, 1, 1_073_741_824);
  const bucket = str(env, 'S3_BUCKET') ?? null;
  if (storage === 's3' && bucket === null) throw new ConfigError('S3_BUCKET', 'is required when FILE_STORAGE is s3');
  const accessKeyId = str(env, 'S3_ACCESS_KEY_ID') ?? null;
  const secretAccessKey = str(env, 'S3_SECRET_ACCESS_KEY') ?? null;
  if ((accessKeyId === null) !== (secretAccessKey === null)) {
    throw new ConfigError(accessKeyId === null ? 'S3_ACCESS_KEY_ID' : 'S3_SECRET_ACCESS_KEY', 'must be set together with its pair');
  }
  const endpoint = url(env, 'S3_ENDPOINT', ['http:', 'https:']);
  const region = str(env, 'S3_REGION') ?? 'us-east-1';
  const forcePathStyle = bool(env, 'S3_FORCE_PATH_STYLE', false);
  return {
    storage,
    urlSecret,
    uploadUrlTtlSeconds: int(env, 'UPLOAD_URL_TTL_SECONDS', fileDefaults.uploadUrlTtlSeconds, 1, 24 * 60 * 60),
    downloadUrlTtlSeconds: int(env, 'FILE_URL_TTL_SECONDS', fileDefaults.downloadUrlTtlSeconds, 1, 24 * 60 * 60),
    maxBytes: {
      AVATAR: int(env, 'FILE_MAX_BYTES_AVATAR', maxBytes, 1, 1_073_741_824),
      ITEM_IMAGE: int(env, 'FILE_MAX_BYTES_ITEM_IMAGE', maxBytes, 1, 1_073_741_824),
      ATTACHMENT: int(env, 'FILE_MAX_BYTES_ATTACHMENT', maxBytes, 1, 1_073_741_824),
    },
    maxPerEntity: int(env, 'FILE_MAX_PER_ENTITY', fileDefaults.maxPerEntity, 1, 1_000),
    userQuotaBytes: int(env, 'FILE_USER_QUOTA_BYTES', fileDefaults.userQuotaBytes, 1, 2 ** 50),
    orphanGraceMs: int(env, 'FILE_ORPHAN_GRACE_MS', fileDefaults.orphanGraceMs, 0, 365 * 24 * 60 * 60 * 1_000),
    s3: bucket === null ? null : { bucket, endpoint, region, accessKeyId, secretAccessKey, forcePathStyle },
  };
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const production = nodeEnv === 'production';
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const dataDirRaw = str(env, 'DATA_DIR');
  const dataDir = dataDirRaw === ':memory:' ? null : path.resolve(dataDirRaw ?? '.data');

  const secret = str(env, 'JWT_SECRET') ?? null;
  if (secret !== null && Buffer.byteLength(secret) < 32) throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes');
  const privateKey = str(env, 'JWT_PRIVATE_KEY') ?? null;
  const publicKey = str(env, 'JWT_PUBLIC_KEY') ?? null;
  if ((privateKey === null) !== (publicKey === null)) {
    throw new ConfigError(privateKey === null ? 'JWT_PRIVATE_KEY' : 'JWT_PUBLIC_KEY', 'must be set together with its pair');
  }
  if (production && secret === null && privateKey === null) {
    throw new ConfigError('JWT_SECRET', 'is required in production (or JWT_PRIVATE_KEY and JWT_PUBLIC_KEY)');
  }
  const keyPair = privateKey !== null && publicKey !== null ? signingKeyPair(privateKey, publicKey) : null;

  const debugSql = bool(env, 'DEBUG_SQL', false);
  if (production && debugSql) throw new ConfigError('DEBUG_SQL', 'cannot be enabled in production');

  // The exporter reads the endpoint itself; it is checked here so a typo fails at start-up, not at the first export.
  const tracing = bool(env, 'TRACING', url(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']) !== null);

  const metricsToken = str(env, 'METRICS_TOKEN') ?? null;
  if (metricsToken !== null && Buffer.byteLength(metricsToken) < 16) throw new ConfigError('METRICS_TOKEN', 'must be at least 16 bytes');

  const adminEmail = str(env, 'ADMIN_EMAIL') ?? null;
  const adminPassword = str(env, 'ADMIN_PASSWORD') ?? null;
  if ((adminEmail === null) !== (adminPassword === null)) {
    throw new ConfigError(adminEmail === null ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD', 'must be set together with its pair');
  }

  return {
    nodeEnv,
    port: int(env, 'PORT', 4000, 0, 65_535),
    host: str(env, 'HOST') ?? '0.0.0.0',
    workers: workers(env, redisUrl, databaseUrl),
    databaseUrl,
    statementTimeoutMs: int(env, 'DB_STATEMENT_TIMEOUT_MS', databaseDefaults.statementTimeoutMs, 0, 24 * 60 * 60 * 1_000),
    dataDir,
    redisUrl,
    redisPrefix: redisPrefix(env, 'REDIS_PREFIX'),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    trustProxy: trustProxy(env, 'TRUST_PROXY'),
    http: {
      requestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
      headersTimeoutMs: int(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      connectionTimeoutMs: int(env, 'HTTP_CONNECTION_TIMEOUT_MS', 60_000, 0, 3_600_000),
      keepAliveTimeoutMs: int(env, 'HTTP_KEEPALIVE_TIMEOUT_MS', 72_000, 100, 3_600_000),
    },
    seedDemoData: bool(env, 'SEED_DEMO_DATA', !production),
    debugSql,
    tracing,
    metricsToken,
    jwt: {
      secret,
      keyPair,
      issuer: str(env, 'JWT_ISSUER') ?? 'opshub',
      audience: str(env, 'JWT_AUDIENCE') ?? 'opshub-api',
      // Seconds win over minutes when both are set: short lifetimes (a few seconds) are for tests of token expiry.
      accessTtlSeconds:
        str(env, 'ACCESS_TOKEN_TTL_SECONDS') !== undefined
          ? int(env, 'ACCESS_TOKEN_TTL_SECONDS', 1_800, 1, 24 * 60 * 60)
          : int(env, 'ACCESS_TOKEN_TTL_MINUTES', 30, 1, 24 * 60) * 60,
      refreshTtlSeconds: int(env, 'REFRESH_TOKEN_TTL_DAYS', 7, 1, 365) * 24 * 60 * 60,
      authCacheTtlMs: int(env, 'AUTH_CACHE_TTL_MS', 1_000, 0, 10_000),
    },
    admin: { email: adminEmail, password: adminPassword },
    loginRateLimit: {
      maxAttempts: int(env, 'LOGIN_MAX_ATTEMPTS', 20, 1, 10_000),
      maxAttemptsPerAddress: int(env, 'LOGIN_MAX_ATTEMPTS_PER_ADDRESS', 100, 1, 1_000_000),
      windowMs: int(env, 'LOGIN_WINDOW_SECONDS', 60, 1, 24 * 60 * 60) * 1_000,
    },
    introspection: bool(env, 'INTROSPECTION', !production),
    graphiql: bool(env, 'GRAPHIQL', !production),
    dashboard: bool(env, 'DASHBOARD', false),
    limits: operationLimits(env, production ? productionLimits : defaultLimits),
    rateLimit: {
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', rateLimitDefaults.windowMs, 100, 24 * 60 * 60 * 1_000),
      anonymous: int(env, 'RATE_LIMIT_ANONYMOUS', rateLimitDefaults.anonymous, 1, 100_000_000),
      user: int(env, 'RATE_LIMIT_USER', rateLimitDefaults.user, 1, 100_000_000),
      moderator: int(env, 'RATE_LIMIT_MODERATOR', rateLimitDefaults.moderator, 1, 100_000_000),
      admin: int(env, 'RATE_LIMIT_ADMIN', rateLimitDefaults.admin, 1, 100_000_000),
    },
    wsConnectionInitTimeoutMs: int(env, 'WS_CONNECTION_INIT_TIMEOUT_MS', 3_000, 10, 60_000),
    trustedDocuments: str(env, 'TRUSTED_DOCUMENTS') ? path.resolve(str(env, 'TRUSTED_DOCUMENTS')!) : null,
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 8_000, 0, 60_000),
    discountCodes: discountCodes(env),
    jobs: {
      concurrency: int(env, 'JOB_CONCURRENCY', 2, 0, 64),
      cleanupIntervalMs: int(env, 'CLEANUP_INTERVAL_MS', 60 * 60 * 1_000, 1_000, 7 * 24 * 60 * 60 * 1_000),
      pollIntervalMs: int(env, 'JOB_POLL_INTERVAL_MS', 500, 10, 60_000),
      leaseMs: int(env, 'JOB_LEASE_MS', 30_000, 1_000, 3_600_000),
      retryBaseMs: int(env, 'JOB_RETRY_BASE_MS', 5_000, 0, 3_600_000),
      emailDelayMs: int(env, 'JOB_EMAIL_DELAY_MS', 0, 0, 60_000),
      concurrencyPerOwner: int(env, 'JOB_CONCURRENCY_PER_OWNER', 1, 1, 64),
      maxQueuedPerUser: int(env, 'JOB_MAX_QUEUED_PER_USER', 20, 1, 100_000),
    },
    files: fileConfig(env, secret),
    realtime: {
      keepAliveMs: int(env, 'WS_KEEPALIVE_MS', 12_000, 50, 300_000),
      maxBufferedBytes: int(env, 'WS_MAX_BUFFERED_BYTES', 1_048_576, 1_024, 1_073_741_824),
      subscriptionQueueLimit: int(env, 'WS_SUBSCRIPTION_QUEUE_LIMIT', 1_000, 1, 1_000_000),
      maxSubscriptionsPerConnection: int(env, 'WS_MAX_SUBSCRIPTIONS', 100, 1, 100_000),
      maxConnectionsPerUser: int(env, 'WS_MAX_CONNECTIONS_PER_USER', 10, 1, 100_000),
      maxAnonymousPerAddress: int(env, 'WS_MAX_ANONYMOUS_PER_ADDRESS', 20, 1, 100_000),
      maxAnonymous: int(env, 'WS_MAX_ANONYMOUS_CONNECTIONS', 1_000, 1, 1_000_000),
      messageLimit: int(env, 'CHAT_MESSAGE_LIMIT', 10, 1, 1_000_000),
      messageWindowMs: int(env, 'CHAT_MESSAGE_WINDOW_MS', 60_000, 100, 24 * 60 * 60 * 1_000),
      typingThrottleMs: int(env, 'TYPING_THROTTLE_MS', 2_000, 0, 60_000),
      typingTimeoutMs: int(env, 'TYPING_TIMEOUT_MS', 5_000, 10, 600_000),
      streamRetentionMs: int(env, 'STREAM_RETENTION_MS', 24 * 60 * 60 * 1_000, 1_000, 365 * 24 * 60 * 60 * 1_000),
      streamReplayMax: int(env, 'STREAM_REPLAY_MAX', 1_000, 1, 100_000),
    },
  };
}
