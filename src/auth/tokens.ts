/**
 * Access tokens (JWT, jose) and refresh tokens (opaque random strings stored only as SHA-256 hashes).
 *
 * Verification pins the algorithm, issuer, audience, `typ` and kid, and requires every claim we issue, so `alg: none`,
 * HS/RS confusion (a token HMAC-signed with the public key), tokens of other issuers or audiences, and refresh tokens
 * presented as access tokens are all refused (RFC 8725 §3.1, §3.8, §3.11).
 *
 * Verifying a signature is most of what authenticating a request costs (an HMAC through WebCrypto, or an EdDSA/ES256/
 * RS256 check), and a client sends the same token for its whole life. A token that passed every check is remembered,
 * by its whole text, until its `exp` (plus the clock tolerance jose applies): the same string again is the same
 * signed bytes, so it needs no second check; a token differing in any byte (forged, altered, re-signed) is a miss and
 * goes through jose. Only successes are remembered; the cache is bounded (LRU), so a flood of distinct tokens only
 * costs what it always cost. What a token cannot say — whether its user is still active, its session still live —
 * is checked on every request by src/auth/identity.ts.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTHeaderParameters } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';
import { loadSigningKeys, type SigningKeys } from './keys.js';

/** RFC 9068 media type of access tokens; a JWT of another type (an ID token, say) is not an access token. */
const ACCESS_TOKEN_TYPE = 'at+jwt';
const REFRESH_TOKEN_PREFIX = 'ohr_';
const CLOCK_TOLERANCE_SECONDS = 5;
/** Verified tokens remembered: about 1 KB each (the token text and its claims). */
const VERIFIED_CACHE_MAX = 10_000;

export interface AccessClaims {
  /** User id (uuid). */
  sub: string;
  /** Session family id (uuid). */
  sid: string;
  scopes: string[];
  /** Expiry, in seconds since the epoch. */
  exp: number;
  jti: string;
}

export class InvalidTokenError extends Error {
  constructor(readonly reason: string) {
    super(`Invalid access token: ${reason}`);
    this.name = 'InvalidTokenError';
  }
}

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
}

export class TokenService {
  private keysPromise: Promise<SigningKeys> | null = null;
  /** Claims of tokens that passed verification, by token text, each until its expiry (see the header). */
  private readonly verified = new LRUCache<string, AccessClaims>({ max: VERIFIED_CACHE_MAX });
  /**
   * Verifications under way, by token text: the same token presented again before its first check settled (a client's
   * sockets reconnecting at once) waits on that check and gets the same claims object, so the subscription fan-out
   * checks it once per event. Entries leave as they settle, so this holds at most what is being verified.
   */
  private readonly verifying = new Map<string, Promise<AccessClaims>>();

  constructor(private readonly config: Pick<Config, 'jwt' | 'dataDir'>) {}

  /** The signing keys, loaded (or generated) once. */
  keys(): Promise<SigningKeys> {
    return (this.keysPromise ??= loadSigningKeys(this.config));
  }

  async signAccessToken(claims: { userId: string; sessionId: string; scopes: readonly string[] }): Promise<IssuedAccessToken> {
    const keys = await this.keys();
    const expiresIn = this.config.jwt.accessTtlSeconds;
    const token = await new SignJWT({ scope: claims.scopes.join(' '), sid: claims.sessionId })
      .setProtectedHeader({ alg: keys.alg, kid: keys.kid, typ: ACCESS_TOKEN_TYPE })
      .setSubject(claims.userId)
      .setIssuer(this.config.jwt.issuer)
      .setAudience(this.config.jwt.audience)
      .setIssuedAt()
      .setExpirationTime(`${expiresIn}s`)
      .setJti(randomUUID())
      .sign(keys.signingKey);
    return { token, expiresIn };
  }

  async verifyAccessToken(token: string): Promise<AccessClaims> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      // lru-cache drops an entry past its ttl lazily; the expiry is checked here too, as jose would.
      if ((known.exp + CLOCK_TOLERANCE_SECONDS) * 1_000 > Date.now()) return known;
      this.verified.delete(token);
    }
    let verifying = this.verifying.get(token);
    if (verifying === undefined) {
      this.verifying.set(token, (verifying = this.verifyOnce(token)));
      const settled = () => void this.verifying.delete(token);
      verifying.then(settled, settled);
    }
    return verifying;
  }

  private async verifyOnce(token: string): Promise<AccessClaims> {
    const claims = await this.verifyWithJose(token);
    const ttl = (claims.exp + CLOCK_TOLERANCE_SECONDS) * 1_000 - Date.now();
    if (ttl > 0) this.verified.set(token, claims, { ttl: Math.ceil(ttl) });
    return claims;
  }

  private async verifyWithJose(token: string): Promise<AccessClaims> {
    const keys = await this.keys();
    try {
      const { payload } = await jwtVerify(
        token,
        async (header: JWTHeaderParameters) => {
          if (header.kid !== keys.kid) throw new InvalidTokenError('unknown key id');
          return keys.verificationKey;
        },
        {
          algorithms: [keys.alg],
          issuer: this.config.jwt.issuer,
          audience: this.config.jwt.audience,
          typ: ACCESS_TOKEN_TYPE,
          requiredClaims: ['sub', 'sid', 'scope', 'iat', 'exp', 'jti'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
        },
      );
      const { sub, sid, scope, exp, jti, iat } = payload as Record<string, unknown>;
      if (typeof sub !== 'string' || typeof sid !== 'string' || typeof scope !== 'string' || typeof jti !== 'string') {
        throw new InvalidTokenError('malformed claims');
      }
      // jose accepts an `iat` in the future; a token issued later than now was not issued by us.
      if (typeof iat !== 'number' || iat > Date.now() / 1000 + CLOCK_TOLERANCE_SECONDS) throw new InvalidTokenError('not yet valid');
      // Frozen: the same object is handed to every request that presents this token.
      return Object.freeze({ sub, sid, scopes: Object.freeze(scope === '' ? [] : scope.split(' ')) as string[], exp: exp as number, jti });
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      if (error instanceof joseErrors.JOSEError) throw new InvalidTokenError(error.code);
      throw new InvalidTokenError('malformed');
    }
  }

  /** A new opaque refresh token and the hash that is stored in its place. */
  newRefreshToken(): { token: string; hash: string } {
    const token = REFRESH_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    return { token, hash: hashRefreshToken(token) };
  }
}

/** SHA-256 suffices: the token is 256 random bits, so there is nothing to brute-force (unlike a password). */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
