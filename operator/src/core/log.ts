/**
 * JSON-lines logs via winston. Fields with meaning across the code base have one
 * spelling: eventId, messageId, secret, mapping, workload, version.
 */
import winston from 'winston';
import { OPERATOR_NAME } from './names';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export type Logger = winston.Logger;

export function createLogger(level: LogLevel | 'silent' = 'info'): Logger {
  return winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
    defaultMeta: { component: OPERATOR_NAME },
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
}

/** Error text without stack or response bodies, safe for logs and status. */
export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; statusCode?: unknown; body?: { message?: unknown }; response?: { statusCode?: unknown } };
    const status = e.statusCode ?? e.response?.statusCode;
    const msg = typeof e.body?.message === 'string' ? e.body.message : typeof e.message === 'string' ? e.message : String(err);
    return status !== undefined ? `${msg} (HTTP ${String(status)})` : msg;
  }
  return String(err);
}
