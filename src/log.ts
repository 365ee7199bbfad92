/**
 * The logger every layer writes to: pino's, as Fastify creates it per request. Declared here so that code below the
 * transports needs neither Fastify nor a request to log.
 */
import type { BaseLogger, Bindings } from 'pino';

export interface Logger extends Pick<BaseLogger, 'level' | 'info' | 'error' | 'debug' | 'fatal' | 'warn' | 'trace' | 'silent'> {
  child(bindings: Bindings): Logger;
}
