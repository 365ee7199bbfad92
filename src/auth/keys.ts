/**
 * Signing keys for access tokens. One algorithm is pinned per process:
 * - `JWT_SECRET` (at least 32 bytes) → HS256;
 * - `JWT_PRIVATE_KEY` + `JWT_PUBLIC_KEY` (PEM text or a path to a PEM file) → EdDSA for Ed25519 keys, ES256 for
 *   P-256 keys, RS256 for RSA keys (at least 2048 bits); the public key is then served at `/.well-known/jwks.json`;
 * - neither, outside production → an Ed25519 key generated once and kept in `DATA_DIR` (in memory when DATA_DIR is
 *   `:memory:`). config.ts refuses to start in production without one of the first two.
 * Every token carries the key's `kid`; a token naming another kid is refused.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { Config } from '../config.js';

export type TokenAlgorithm = 'HS256' | 'EdDSA' | 'ES256' | 'RS256';

export interface SigningKeys {
  alg: TokenAlgorithm;
  kid: string;
  signingKey: KeyObject | Uint8Array;
  verificationKey: KeyObject | Uint8Array;
  /** The public JSON Web Key Set; null for HS256, whose key is secret. */
  jwks: { keys: JWK[] } | null;
  /** Where the key came from, for the start-up log. */
  source: 'secret' | 'key-pair' | 'generated' | 'data-dir';
}

export class KeyConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'KeyConfigError';
  }
}

async function pem(value: string, variable: string): Promise<string> {
  const text = value.includes('-----BEGIN') ? value : await readFile(value, 'utf8').catch(() => null);
  if (text === null) throw new KeyConfigError(variable, 'must be a PEM key or the path of a PEM file');
  // Environment files often carry PEM newlines as `\n`.
  return text.replace(/\\n/g, '\n');
}

async function asymmetric(privateKey: KeyObject, publicKey: KeyObject, source: SigningKeys['source']): Promise<SigningKeys> {
  let alg: TokenAlgorithm;
  if (privateKey.asymmetricKeyType === 'ed25519') alg = 'EdDSA';
  else if (privateKey.asymmetricKeyType === 'ec') {
    if (privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new KeyConfigError('JWT_PRIVATE_KEY', 'must use the P-256 curve when it is an EC key');
    }
    alg = 'ES256';
  } else if (privateKey.asymmetricKeyType === 'rsa') {
    if ((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      throw new KeyConfigError('JWT_PRIVATE_KEY', 'must be an RSA key of at least 2048 bits');
    }
    alg = 'RS256';
  } else {
    throw new KeyConfigError('JWT_PRIVATE_KEY', `must be an Ed25519, P-256 or RSA key, got ${privateKey.asymmetricKeyType}`);
  }
  const derived = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (!derived.equals(publicKey.export({ format: 'der', type: 'spki' }))) {
    throw new KeyConfigError('JWT_PUBLIC_KEY', 'does not belong to JWT_PRIVATE_KEY');
  }
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    alg,
    kid,
    signingKey: privateKey,
    verificationKey: publicKey,
    jwks: { keys: [{ ...jwk, kid, alg, use: 'sig' }] },
    source,
  };
}

export async function loadSigningKeys(config: Pick<Config, 'jwt' | 'dataDir'>): Promise<SigningKeys> {
  const { secret, privateKey, publicKey } = config.jwt;
  if (privateKey && publicKey) {
    let priv: KeyObject;
    let pub: KeyObject;
    try {
      priv = createPrivateKey(await pem(privateKey, 'JWT_PRIVATE_KEY'));
    } catch (error) {
      if (error instanceof KeyConfigError) throw error;
      throw new KeyConfigError('JWT_PRIVATE_KEY', 'is not a readable private key');
    }
    try {
      pub = createPublicKey(await pem(publicKey, 'JWT_PUBLIC_KEY'));
    } catch (error) {
      if (error instanceof KeyConfigError) throw error;
      throw new KeyConfigError('JWT_PUBLIC_KEY', 'is not a readable public key');
    }
    return asymmetric(priv, pub, 'key-pair');
  }
  if (secret) {
    const key = new TextEncoder().encode(secret);
    // The kid names the secret without revealing it: a hash of a domain-separated copy.
    const kid = createHash('sha256').update('opshub-hs256-kid\0').update(key).digest('base64url').slice(0, 16);
    return { alg: 'HS256', kid, signingKey: key, verificationKey: key, jwks: null, source: 'secret' };
  }
  if (config.dataDir) {
    const file = path.join(config.dataDir, 'jwt-ed25519.pem');
    if (existsSync(file)) {
      const priv = createPrivateKey(await readFile(file, 'utf8'));
      return asymmetric(priv, createPublicKey(priv), 'data-dir');
    }
    const { privateKey: priv, publicKey: pub } = generateKeyPairSync('ed25519');
    await mkdir(config.dataDir, { recursive: true });
    // `wx`: two processes starting at once on one DATA_DIR must not overwrite each other's key.
    await writeFile(file, priv.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' }).catch(async (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    const stored = createPrivateKey(await readFile(file, 'utf8'));
    return asymmetric(stored, createPublicKey(stored), pub.equals(createPublicKey(stored)) ? 'generated' : 'data-dir');
  }
  const { privateKey: priv, publicKey: pub } = generateKeyPairSync('ed25519');
  return asymmetric(priv, pub, 'generated');
}
