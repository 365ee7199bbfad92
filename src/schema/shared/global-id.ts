/**
 * Opaque global ids: base64url of `Type:uuid`. Clients must treat them as opaque strings; the encoding only lets
 * `node(id)` find the right type.
 */
import { badUserInput } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function toGlobalId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString('base64url');
}

export interface DecodedId {
  type: string;
  id: string;
}

/** Decodes an id, or returns null when it is not one of ours. */
export function decodeGlobalId(globalId: string): DecodedId | null {
  if (globalId.length > 200 || !/^[A-Za-z0-9_-]+$/.test(globalId)) return null;
  const decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  const type = decoded.slice(0, colon);
  const id = decoded.slice(colon + 1);
  if (!/^[A-Z][A-Za-z]+$/.test(type) || !UUID.test(id)) return null;
  return { type, id };
}

/** The uuid behind a global id of the expected type; a malformed id or one of another type is BAD_USER_INPUT. */
export function fromGlobalId(globalId: string, expectedType: string): string {
  const decoded = decodeGlobalId(globalId);
  if (!decoded) throw badUserInput(`Invalid ID: ${JSON.stringify(globalId.slice(0, 100))}`, { argument: 'id' });
  if (decoded.type !== expectedType) {
    throw badUserInput(`Expected an ID of a ${expectedType}, got an ID of a ${decoded.type}`, { argument: 'id' });
  }
  return decoded.id;
}

/** Like fromGlobalId, but for inputs of mutations: null instead of an error, so the service reports a user error. */
export function parseGlobalId(globalId: string, expectedType: string): string | null {
  const decoded = decodeGlobalId(globalId);
  return decoded && decoded.type === expectedType ? decoded.id : null;
}
