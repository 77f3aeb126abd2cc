import type { OperationalLog } from '../services/deps.ts';

/** Operational warnings and errors of the local runtime, on stderr, one line each. */
export const consoleLog: OperationalLog = {
  warn: (message, details) => console.error(`warning: ${message}`, details ? JSON.stringify(details) : ''),
  error: (message, details) => console.error(`error: ${message}`, details ? JSON.stringify(details) : ''),
};
