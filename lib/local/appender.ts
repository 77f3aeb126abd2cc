/**
 * Appends text to a file off the event loop, in order, one write per batch:
 * what is queued while a write is under way goes out together in the next.
 * `append` resolves once its text is written (handed to the OS, as
 * `appendFileSync` did), so a caller can keep "written before anyone hears of
 * it" without blocking the loop on a synchronous write.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

interface Batch {
  readonly texts: string[];
  readonly written: Promise<void>;
}

export class FileAppender {
  private handle: Promise<FileHandle> | undefined;
  private open: Batch | undefined;
  /** Settles once every batch queued so far has been written (or failed). */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  append(text: string): Promise<void> {
    if (!this.open) {
      const texts: string[] = [];
      const batch: Batch = {
        texts,
        written: this.tail.then(() => {
          // From here on, what is appended goes into the next batch.
          if (this.open === batch) this.open = undefined;
          return this.write(texts.join(''));
        }),
      };
      this.tail = batch.written.catch(() => undefined);
      this.open = batch;
    }
    this.open.texts.push(text);
    return this.open.written;
  }

  /** Resolves once everything appended before the call is written (failures are the appenders' to see). */
  flushed(): Promise<void> {
    return this.tail;
  }

  async close(): Promise<void> {
    await this.tail;
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle).close();
  }

  private async write(text: string): Promise<void> {
    this.handle ??= open(this.file, 'a');
    let handle: FileHandle;
    try {
      handle = await this.handle;
    } catch (error) {
      // Opening failed: the next batch tries again.
      this.handle = undefined;
      throw error;
    }
    await handle.appendFile(text, 'utf8');
  }
}

/** The JSON lines of an append-only file, skipping a line torn by a crash mid-write. */
export function readJsonLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  // Terminate a line torn by a crash mid-write, so the next append starts clean.
  if (text.length > 0 && !text.endsWith('\n')) appendFileSync(file, '\n');
  const lines = text.split('\n');
  const values: T[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      values.push(JSON.parse(line) as T);
    } catch {
      // A line torn by a crash mid-write: everything before it is intact.
    }
  }
  return values;
}
