/**
 * A string as one flat copy. V8 keeps a string built by concatenation (a
 * template literal, `a + b`) as a tree of the pieces it was joined from,
 * which costs several objects per string for as long as it is held; a copy
 * through UTF-8 is one flat string. For strings kept long in memory by the
 * thousand (the in-memory table's keys and items, the event log's tail).
 * Only for well-formed strings (a lone surrogate would come back as U+FFFD).
 */
export function flatString(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}
