/**
 * Signing keys for access tokens. One algorithm is pinned per process:
 * - `JWT_SECRET` (at least 32 bytes) → HS256;
 * - `JWT_PRIVATE_KEY` + `JWT_PUBLIC_KEY` (PEM text or a path to a PEM file, read and checked by config.ts, so a bad key
 *   stops the process with a configuration error) → EdDSA for Ed25519 keys, ES256 for P-256 keys, RS256 for RSA keys
 *   (at least 2048 bits); the public key is then served at `/.well-known/jwks.json`;
 * - neither, outside production → an Ed25519 key generated once and kept in `DATA_DIR` (in memory when DATA_DIR is
 *   `:memory:`). config.ts refuses to start in production without one of the first two.
 * Every token carries the key's `kid`; a token naming another kid is refused.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { keyPairAlgorithm, type Config, type KeyPairAlgorithm } from '../config.js';

export type TokenAlgorithm = 'HS256' | KeyPairAlgorithm;

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

async function asymmetric(
  alg: KeyPairAlgorithm,
  privateKey: KeyObject,
  publicKey: KeyObject,
  source: SigningKeys['source'],
): Promise<SigningKeys> {
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

/** A key of DATA_DIR: ours, Ed25519 unless someone replaced the file. */
function stored(privateKey: KeyObject, source: SigningKeys['source']): Promise<SigningKeys> {
  return asymmetric(keyPairAlgorithm(privateKey, 'DATA_DIR'), privateKey, createPublicKey(privateKey), source);
}

export async function loadSigningKeys(config: Pick<Config, 'jwt' | 'dataDir'>): Promise<SigningKeys> {
  const { secret, keyPair } = config.jwt;
  if (keyPair) return asymmetric(keyPair.alg, keyPair.privateKey, keyPair.publicKey, 'key-pair');
  if (secret) {
    const key = new TextEncoder().encode(secret);
    // The kid names the secret without revealing it: a hash of a domain-separated copy.
    const kid = createHash('sha256').update('opshub-hs256-kid\0').update(key).digest('base64url').slice(0, 16);
    return { alg: 'HS256', kid, signingKey: key, verificationKey: key, jwks: null, source: 'secret' };
  }
  if (config.dataDir) {
    const file = path.join(config.dataDir, 'jwt-ed25519.pem');
    if (existsSync(file)) {
      return stored(createPrivateKey(await readFile(file, 'utf8')), 'data-dir');
    }
    const { privateKey: priv, publicKey: pub } = generateKeyPairSync('ed25519');
    await mkdir(config.dataDir, { recursive: true });
    // `wx`: two processes starting at once on one DATA_DIR must not overwrite each other's key.
    await writeFile(file, priv.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' }).catch(async (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    const written = createPrivateKey(await readFile(file, 'utf8'));
    return stored(written, pub.equals(createPublicKey(written)) ? 'generated' : 'data-dir');
  }
  const { privateKey: priv, publicKey: pub } = generateKeyPairSync('ed25519');
  return asymmetric('EdDSA', priv, pub, 'generated');
}
