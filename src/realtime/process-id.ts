import { randomUUID } from 'node:crypto';

export const processId = randomUUID();
