/**
 * SEND_EMAIL and NEWSLETTER: messages go to the `email_outbox` table (no SMTP here), one row per recipient. A retried
 * or resumed job skips recipients it already wrote, and the (job, recipient) unique index makes a second row
 * impossible even when two attempts overlap.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { UserRepo } from '../../schema/user/user.repo.js';
import type { OutboxRepo } from '../outbox.repo.js';
import { parseGlobalId } from '../../schema/shared/global-id.js';
import { EMAIL_MAX, isEmail, paramsObject, stringList, text, type Params } from '../params.js';
import { JobPriority, type JobContext, type JobDefinition } from '../types.js';
import type { UserErrors } from '../../schema/shared/user-error.js';

export interface EmailDeps {
  outbox: OutboxRepo;
  users: UserRepo;
  /** Simulated delivery time per recipient (a slow mail server, for tests and demos); 0 in production. */
  emailDelayMs: number;
}

export interface SendEmailParams {
  to: string[];
  subject: string;
  body: string;
}

export interface NewsletterParams {
  subject: string;
  body: string;
  /** User uuids; absent: every active user. */
  recipientIds?: string[];
}

const FORBIDDEN = 'User does not have email sending permissions';

function message(params: Params, errors: UserErrors, path: string[]) {
  return {
    subject: text(params, 'subject', errors, path, { label: 'Subject', min: 1, max: 200, required: true }) ?? '',
    body: text(params, 'body', errors, path, { label: 'Body', min: 1, max: 10_000, required: true }) ?? '',
  };
}

async function deliver(deps: EmailDeps, ctx: JobContext, recipients: string[], subject: string, body: string) {
  const sent = await deps.outbox.recipients(ctx.job.id);
  for (const [index, recipient] of recipients.entries()) {
    if (sent.has(recipient)) continue;
    if (deps.emailDelayMs > 0) await sleep(deps.emailDelayMs, undefined, { signal: ctx.signal });
    await deps.outbox.send(ctx.job.id, recipient, subject, body);
    await ctx.progress(((index + 1) / recipients.length) * 100);
  }
  return { recipients: recipients.length, sentAt: new Date().toISOString() };
}

export function sendEmail(deps: EmailDeps): JobDefinition<SendEmailParams> {
  return {
    kind: 'SEND_EMAIL',
    // A handful of recipients someone is waiting for (a welcome e-mail): ahead of bulk work.
    priority: JobPriority.HIGH,
    scopes: ['admin:write'],
    forbiddenMessage: FORBIDDEN,
    parse(raw, errors, path) {
      const params = paramsObject(raw, errors, path, ['to', 'subject', 'body']);
      const to = stringList(params, 'to', errors, path, { label: 'Recipients', max: 100, entryMax: EMAIL_MAX });
      if (params.to === undefined || params.to === null) errors.add([...path, 'to'], 'Recipients are required');
      const recipients = [...new Set((to ?? []).map((address) => address.trim().toLowerCase()))];
      const invalid = recipients.find((address) => !isEmail(address));
      if (invalid !== undefined) errors.add([...path, 'to'], `Invalid email address: ${invalid.slice(0, 100)}`);
      else if (to !== null && recipients.length === 0) errors.add([...path, 'to'], 'Recipients are required');
      return { to: recipients, ...message(params, errors, path) };
    },
    run: (ctx) => deliver(deps, ctx, ctx.params.to, ctx.params.subject, ctx.params.body),
  };
}

export function newsletter(deps: EmailDeps): JobDefinition<NewsletterParams> {
  return {
    // Mail to every user is bulk work: it must not hold back a single e-mail or a notification.
    kind: 'NEWSLETTER',
    priority: JobPriority.NORMAL,
    scopes: ['admin:write'],
    forbiddenMessage: FORBIDDEN,
    parse(raw, errors, path) {
      const params = paramsObject(raw, errors, path, ['subject', 'body', 'recipientIds']);
      const parsed: NewsletterParams = message(params, errors, path);
      // A global id of a user is well under 100 characters; a uuid is 36.
      const ids = stringList(params, 'recipientIds', errors, path, { label: 'Recipient ids', max: 10_000, entryMax: 100 });
      if (ids) {
        // Stored as uuids; global ids of users are accepted too.
        const uuids = ids.map((id) => (/^[0-9a-f-]{36}$/.test(id) ? id : parseGlobalId(id, 'User')));
        if (uuids.some((id) => id === null)) errors.add([...path, 'recipientIds'], 'Recipient ids must be User ids');
        else parsed.recipientIds = [...new Set(uuids as string[])];
      }
      return parsed;
    },
    async run(ctx) {
      const recipients = await deps.users.activeEmails(ctx.params.recipientIds ?? null);
      return deliver(deps, ctx, recipients, ctx.params.subject, ctx.params.body);
    },
  };
}
