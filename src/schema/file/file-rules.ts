/**
 * The seed rules for files, in one place: what each purpose accepts, and what a stored file name may be. The
 * service checks them and the schema descriptions state them, so both read these constants.
 */
import type { FilePurpose } from '../../config.js';

export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'] as const;

/**
 * Content types per purpose. Pictures (avatars, item images) are images only; attachments add PDF and plain text or
 * CSV. Every type but the text ones is recognised from its bytes (`file-type`); text is accepted only when the bytes
 * are UTF-8 without NUL or markup a browser would sniff as HTML.
 */
export const ALLOWED_TYPES: Readonly<Record<FilePurpose, readonly string[]>> = {
  AVATAR: IMAGE_TYPES,
  ITEM_IMAGE: IMAGE_TYPES,
  ATTACHMENT: [...IMAGE_TYPES, 'application/pdf', 'text/plain', 'text/csv'],
};

export const TEXT_TYPES = new Set(['text/plain', 'text/csv']);

export const FILENAME_MAX = 255;

/** Device names Windows refuses as file names, with or without an extension. */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
// eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/gu;

export type FilenameCheck = { ok: true; filename: string; displayName: string } | { ok: false; message: string };

/**
 * The stored name of an uploaded file: path parts, control and bidirectional-override characters, and characters
 * that are unsafe in a file name or a header are refused or replaced; the original, without control characters, is
 * kept as the display name. A name that walks up a directory (`..`), is empty, or is a reserved device name is
 * refused rather than repaired: it is not a mistake a client makes by accident.
 */
export function checkFilename(raw: string): FilenameCheck {
  const displayName = raw.replace(CONTROL, '').trim().normalize('NFC');
  if (displayName === '') return { ok: false, message: 'Filename must not be empty' };
  if ([...displayName].length > FILENAME_MAX) return { ok: false, message: `Filename must be at most ${FILENAME_MAX} characters` };
  const parts = displayName.split(/[/\\]/);
  if (parts.some((part) => part.trim() === '..')) return { ok: false, message: 'Filename must not contain path parts' };
  const base = parts.at(-1)!.trim();
  const filename = base
    .replace(/[<>:"|?*;%]/g, '_')
    .replace(/^[.\s]+|[.\s]+$/g, '')
    .slice(0, FILENAME_MAX);
  if (filename === '') return { ok: false, message: 'Filename must name a file' };
  if (RESERVED.test(filename)) return { ok: false, message: 'Filename is a reserved name' };
  return { ok: true, filename, displayName };
}

/** `content-disposition` (RFC 6266): an ASCII fallback and the UTF-8 name (RFC 8187), nothing a header could break on. */
export function contentDisposition(kind: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
