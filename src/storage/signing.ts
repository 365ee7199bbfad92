/**
 * Signed URLs: the capability to do one thing (PUT an upload's bytes, GET a file, GET an export) to one object until
 * a moment, without a header, so a browser `<img>` or a download link works. The signature is HMAC-SHA256 with
 * FILE_URL_SECRET over the action, the method, the object's id and the expiry; changing any of them, or the URL after
 * it expired, gets 403. An upload URL is also single-use: the upload row's status makes a second use fail, whatever
 * the signature says.
 *
 * Threat model: a page on another site can make a browser send a PUT or a form POST to the upload route (a form's
 * multipart POST needs no preflight), but without a URL signed for that upload it is refused before a byte is stored;
 * the URL is only ever handed to the uploader, in the `createUpload` payload.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type SignedAction = 'upload' | 'file' | 'thumbnail' | 'export';

export interface SignedTarget {
  action: SignedAction;
  method: 'GET' | 'PUT' | 'POST';
  id: string;
}

export class UrlSigner {
  private readonly key: Buffer;

  /** `secret`: FILE_URL_SECRET; null generates a key for this process (URLs then work only on it, until it stops). */
  constructor(secret: string | null) {
    this.key = secret === null ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  private mac(target: SignedTarget, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`${target.action}\n${target.method}\n${target.id}\n${expires}`).digest();
  }

  /** `path?expires=…&sig=…`, valid for `ttlSeconds`. */
  sign(path: string, target: SignedTarget, ttlSeconds: number, now = Date.now()): { url: string; expiresAt: Date } {
    const expires = Math.floor(now / 1_000) + ttlSeconds;
    const sig = this.mac(target, expires).toString('base64url');
    return { url: `${path}?expires=${expires}&sig=${sig}`, expiresAt: new Date(expires * 1_000) };
  }

  /** Whether the query's signature is this target's and has not expired. */
  verify(target: SignedTarget, query: { expires?: unknown; sig?: unknown }, now = Date.now()): 'valid' | 'invalid' | 'expired' {
    const { expires, sig } = query;
    if (typeof expires !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) {
      return 'invalid';
    }
    const given = Buffer.from(sig, 'base64url');
    const expected = this.mac(target, Number(expires));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return Number(expires) * 1_000 > now ? 'valid' : 'expired';
  }
}
