/**
 * Configuration is read once, in src/config.ts: a bad value stops the process with a message naming the variable,
 * and the README's configuration table lists exactly the variables that module reads.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { spawnServer, stopAll, tempDataDir } from '../helpers/spawn.js';

const keyDir = tempDataDir();
afterAll(async () => {
  await stopAll();
  keyDir.remove();
});

const SECRET = 'a-secret-that-is-at-least-32-bytes-long';

const privatePem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }).toString();
const publicPem = (key: KeyObject) => key.export({ format: 'pem', type: 'spki' }).toString();
const ed25519 = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1_024 });
const PRIVATE = privatePem(ed25519.privateKey);
const PUBLIC = publicPem(ed25519.publicKey);
const privateFile = path.join(keyDir.dir, 'private.pem');
const publicFile = path.join(keyDir.dir, 'public.pem');
const notPemFile = path.join(keyDir.dir, 'not-a-key.txt');
writeFileSync(privateFile, PRIVATE);
writeFileSync(publicFile, PUBLIC);
writeFileSync(notPemFile, 'not a key');

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** Every variable loadConfig reads, found by handing it an environment that records each lookup. */
function variablesRead(): string[] {
  const seen = new Set<string>();
  const recording = (base: Record<string, string>) =>
    new Proxy(base, {
      get(target, key) {
        if (typeof key === 'string') seen.add(key);
        return target[key as string];
      },
    });
  loadConfig(recording({}));
  loadConfig(recording({ NODE_ENV: 'production', JWT_SECRET: SECRET, TRUSTED_DOCUMENTS: 'x.json' }));
  return [...seen].sort();
}

describe('loadConfig', () => {
  it.each([
    [{ PORT: 'abc' }, 'PORT', /PORT must be an integer, got "abc"/],
    [{ PORT: '70000' }, 'PORT', /PORT must be between 0 and 65535/],
    [{ DATABASE_URL: 'mysql://root@localhost/opshub' }, 'DATABASE_URL', /DATABASE_URL must use postgres: or postgresql:/],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL', /DATABASE_URL must be a URL/],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET', /JWT_SECRET must be at least 32 bytes/],
    [{ NODE_ENV: 'production' }, 'JWT_SECRET', /JWT_SECRET is required in production/],
    [{ NODE_ENV: 'production', JWT_SECRET: SECRET, DEBUG_SQL: 'true' }, 'DEBUG_SQL', /DEBUG_SQL cannot be enabled in production/],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV', /NODE_ENV must be one of development, production, test/],
    [{ SEED_DEMO_DATA: 'maybe' }, 'SEED_DEMO_DATA', /SEED_DEMO_DATA must be true or false/],
    [{ CORS_ORIGINS: 'app.example.com' }, 'CORS_ORIGINS', /CORS_ORIGINS must be a comma-separated list of origins/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /LOG_LEVEL must be one of/],
    [{ REDIS_URL: 'http://localhost:6379' }, 'REDIS_URL', /REDIS_URL must use redis: or rediss:/],
    [{ REDIS_PREFIX: 'has space' }, 'REDIS_PREFIX', /REDIS_PREFIX must be 1–64/],
    [{ TRUST_PROXY: 'proxy.example.com' }, 'TRUST_PROXY', /TRUST_PROXY must be true, false, a hop count or a list/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY', /got "10.0.0.0\/33"/],
    [{ FILE_URL_SECRET: 'short' }, 'FILE_URL_SECRET', /FILE_URL_SECRET must be at least 32 bytes/],
    [{ FILE_STORAGE: 'disk' }, 'FILE_STORAGE', /FILE_STORAGE must be one of postgres, s3/],
    [{ FILE_STORAGE: 's3' }, 'S3_BUCKET', /S3_BUCKET is required when FILE_STORAGE is s3/],
    [{ S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k' }, 'S3_SECRET_ACCESS_KEY', /must be set together with its pair/],
    [{ S3_BUCKET: 'b', S3_ENDPOINT: 'ftp://s3.local' }, 'S3_ENDPOINT', /S3_ENDPOINT must use http: or https:/],
  ])('refuses %j, naming %s', (env, variable, message) => {
    const error = configError(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });

  it.each([
    [undefined, false],
    ['false', false],
    ['true', true],
    ['2', 2],
    ['loopback, 10.0.0.0/8,2001:db8::/32', ['loopback', '10.0.0.0/8', '2001:db8::/32']],
  ])('reads TRUST_PROXY=%s as %j', (value, expected) => {
    expect(loadConfig(value === undefined ? {} : { TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each([
    [
      'a value that is neither PEM nor a file',
      { JWT_PRIVATE_KEY: 'not-a-key', JWT_PUBLIC_KEY: PUBLIC },
      'JWT_PRIVATE_KEY',
      /JWT_PRIVATE_KEY must be a PEM key or the path of a readable PEM file$/,
    ],
    [
      'a path that does not exist',
      { JWT_PRIVATE_KEY: PRIVATE, JWT_PUBLIC_KEY: path.join(keyDir.dir, 'missing.pem') },
      'JWT_PUBLIC_KEY',
      /JWT_PUBLIC_KEY must be a PEM key or the path/,
    ],
    [
      'a file that holds no PEM key',
      { JWT_PRIVATE_KEY: notPemFile, JWT_PUBLIC_KEY: PUBLIC },
      'JWT_PRIVATE_KEY',
      /JWT_PRIVATE_KEY is not a readable PEM private key/,
    ],
    [
      'a public key as the private key',
      { JWT_PRIVATE_KEY: PUBLIC, JWT_PUBLIC_KEY: PUBLIC },
      'JWT_PRIVATE_KEY',
      /JWT_PRIVATE_KEY is not a readable PEM private key/,
    ],
    [
      'a private key as the public key',
      { JWT_PRIVATE_KEY: PRIVATE, JWT_PUBLIC_KEY: PRIVATE },
      'JWT_PUBLIC_KEY',
      /JWT_PUBLIC_KEY must be a public key, got a private key/,
    ],
    [
      'a P-384 key',
      { JWT_PRIVATE_KEY: privatePem(p384.privateKey), JWT_PUBLIC_KEY: publicPem(p384.publicKey) },
      'JWT_PRIVATE_KEY',
      /JWT_PRIVATE_KEY must use the P-256 curve/,
    ],
    [
      'an RSA key of 1024 bits',
      { JWT_PRIVATE_KEY: privatePem(rsa1024.privateKey), JWT_PUBLIC_KEY: publicPem(rsa1024.publicKey) },
      'JWT_PRIVATE_KEY',
      /JWT_PRIVATE_KEY must be an RSA key of at least 2048 bits/,
    ],
    [
      'a public key of another pair',
      { JWT_PRIVATE_KEY: PRIVATE, JWT_PUBLIC_KEY: publicPem(other.publicKey) },
      'JWT_PUBLIC_KEY',
      /JWT_PUBLIC_KEY does not belong to JWT_PRIVATE_KEY/,
    ],
  ])('refuses %s as a signing key, naming %s', (_case, env, variable, message) => {
    const error = configError(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });

  it('never repeats the value of a key variable in its error', () => {
    const pasted = PRIVATE.replace(/-----[A-Z ]+-----/g, '').trim();
    expect(configError({ JWT_PRIVATE_KEY: pasted, JWT_PUBLIC_KEY: PUBLIC }).message).not.toContain(pasted.slice(0, 20));
  });

  it('reads a key pair from PEM text or from the files it names', () => {
    for (const env of [
      { JWT_PRIVATE_KEY: PRIVATE, JWT_PUBLIC_KEY: PUBLIC },
      { JWT_PRIVATE_KEY: privateFile, JWT_PUBLIC_KEY: publicFile },
    ]) {
      const { keyPair } = loadConfig(env).jwt;
      expect(keyPair?.alg).toBe('EdDSA');
      expect(keyPair?.publicKey.equals(ed25519.publicKey)).toBe(true);
    }
    // Environment files often carry the PEM newlines as `\n`.
    expect(loadConfig({ JWT_PRIVATE_KEY: PRIVATE.replace(/\n/g, '\\n'), JWT_PUBLIC_KEY: PUBLIC }).jwt.keyPair?.alg).toBe('EdDSA');
  });

  it('refuses half of a pair, naming the missing half', () => {
    expect(configError({ ADMIN_EMAIL: 'admin@example.com' }).variable).toBe('ADMIN_PASSWORD');
    expect(configError({ JWT_PRIVATE_KEY: 'k' }).variable).toBe('JWT_PUBLIC_KEY');
  });

  it('has development defaults: port 4000, PGlite in .data, GraphiQL and demo data on', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 4000,
      databaseUrl: null,
      graphiql: true,
      seedDemoData: true,
      debugSql: false,
    });
    expect(config.dataDir).toMatch(/[/\\]\.data$/);
    expect(loadConfig({ DATA_DIR: ':memory:' }).dataDir).toBeNull();
  });

  it('derives the file URL key from JWT_SECRET, so processes sharing it accept each other’s URLs', () => {
    const derived = loadConfig({ JWT_SECRET: SECRET }).files.urlSecret;
    expect(derived).toMatch(/^[0-9a-f]{64}$/);
    expect(loadConfig({ JWT_SECRET: SECRET }).files.urlSecret).toBe(derived);
    expect(derived).not.toContain(SECRET);
    expect(loadConfig({ JWT_SECRET: `${SECRET}x` }).files.urlSecret).not.toBe(derived);
    const own = 'a-file-url-secret-of-at-least-32-bytes!';
    expect(loadConfig({ JWT_SECRET: SECRET, FILE_URL_SECRET: own }).files.urlSecret).toBe(own);
    expect(loadConfig({}).files.urlSecret).toBeNull();
  });

  it('turns GraphiQL, introspection and demo data off in production', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET })).toMatchObject({
      graphiql: false,
      introspection: false,
      seedDemoData: false,
    });
  });
});

describe('the entry point with a bad value', () => {
  it('exits non-zero with a message naming PORT', { timeout: 120_000 }, async () => {
    const server = spawnServer({ PORT: 'abc', DATA_DIR: ':memory:' });
    const exit = await server.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(server.stderr()).toMatch(/PORT must be an integer/);
    expect(server.logs.find((l) => l.msg === 'OpsHub is ready')).toBeUndefined();
  });
});

describe('the entry point with a bad signing key', () => {
  it('exits non-zero with one line naming JWT_PRIVATE_KEY, not a stack trace', { timeout: 120_000 }, async () => {
    const server = spawnServer({ JWT_PRIVATE_KEY: path.join(keyDir.dir, 'missing.pem'), JWT_PUBLIC_KEY: publicFile, DATA_DIR: ':memory:' });
    const exit = await server.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(server.stderr()).toBe('Invalid configuration: JWT_PRIVATE_KEY must be a PEM key or the path of a readable PEM file\n');
    expect(server.logs.find((l) => l.msg === 'OpsHub is ready')).toBeUndefined();
  });
});

describe('README configuration table', () => {
  it('lists exactly the variables src/config.ts reads', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split(/^## /m).find((s) => s.startsWith('Configuration'));
    expect(section, 'a "## Configuration" section').toBeDefined();
    const documented = [...section!.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`/gm)].map((m) => m[1]!).sort();
    expect(documented).toEqual(variablesRead());
  });
});
