/** This process's id among the processes sharing one Redis (its liveness key, its entries in shared state). */
import { randomUUID } from 'node:crypto';

export const processId = randomUUID();
