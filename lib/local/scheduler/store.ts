/**
 * Durable schedules: a JSON snapshot plus an append-only journal of the
 * changes made since it.
 *
 * - Each change is one JSON line appended to `<file>.journal` and flushed to
 *   disk before the caller is told it is stored. Changes made while a write is
 *   running share the next one (group commit), so a burst costs a few writes.
 *   A change costs its own size, not the size of every schedule held — which
 *   matters with tens of thousands of them.
 * - When the journal outgrows the snapshot, the whole state is written to a
 *   temporary file, flushed, and renamed over `<file>` (atomic: a crash leaves
 *   the old snapshot or the new one, never a torn one); then the journal is
 *   emptied. `close()` does the same, so a closed store is one plain snapshot.
 * - The snapshot carries a generation; journal lines carry the generation that
 *   was current when they were made. Loading replays only lines of the
 *   snapshot's generation or later, so a crash between the rename and emptying
 *   the journal replays nothing twice. A torn last line (a crash mid-append) is
 *   a change nobody was told was stored, and is ignored.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LocalSchedule } from './model.ts';

export const STORE_VERSION = 1;

export interface SnapshotFile {
  readonly version: typeof STORE_VERSION;
  readonly generation: number;
  readonly schedules: readonly LocalSchedule[];
}

export type ScheduleChange =
  | { readonly put: LocalSchedule }
  | { readonly delete: { readonly GroupName: string; readonly Name: string } };

type JournalLine = ScheduleChange & { readonly generation: number };

/** The journal is compacted once it is larger than this and than the snapshot. */
const MIN_COMPACT_BYTES = 1024 * 1024;
/** Schedules serialised per event-loop turn while compacting, so timers keep firing on time. */
const RENDER_SLICE = 2000;

interface Batch {
  readonly lines: string[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { lines: [], done, resolve, reject };
}

function keyOf(schedule: { readonly GroupName: string; readonly Name: string }): string {
  return `${schedule.GroupName}/${schedule.Name}`;
}

function isSchedule(value: unknown): value is LocalSchedule {
  const s = value as Partial<LocalSchedule> | null;
  return (
    typeof s?.Name === 'string' &&
    typeof s.GroupName === 'string' &&
    typeof s.ScheduledAt === 'number' &&
    typeof s.Target?.Arn === 'string'
  );
}

export class ScheduleStore {
  private readonly journalPath: string;
  private generation = 0;
  private snapshotBytes = 0;
  private journalBytes = 0;
  private journal: FileHandle | undefined;
  private pending: Batch | undefined;
  private writing: Promise<void> | undefined;
  private closed = false;

  /** `state` returns every schedule held now; it is read when a snapshot is taken. */
  constructor(
    readonly path: string,
    private readonly state: () => readonly LocalSchedule[],
  ) {
    this.journalPath = `${path}.journal`;
    mkdirSync(dirname(path), { recursive: true });
  }

  /** Reads the snapshot and replays the journal over it. */
  load(): LocalSchedule[] {
    const schedules = new Map<string, LocalSchedule>();
    const snapshotText = readIfExists(this.path);
    if (snapshotText !== undefined) {
      const snapshot = parse(snapshotText, this.path) as Partial<SnapshotFile> | null;
      if (
        snapshot?.version !== STORE_VERSION ||
        typeof snapshot.generation !== 'number' ||
        !Array.isArray(snapshot.schedules)
      ) {
        throw new Error(`${this.path} is not a schedule file of version ${STORE_VERSION}`);
      }
      for (const schedule of snapshot.schedules) {
        if (!isSchedule(schedule)) throw malformed(this.path, schedule);
        schedules.set(keyOf(schedule), schedule);
      }
      this.generation = snapshot.generation;
      this.snapshotBytes = Buffer.byteLength(snapshotText);
    }
    const journalText = readIfExists(this.journalPath) ?? '';
    this.journalBytes = Buffer.byteLength(journalText);
    const lines = journalText.split('\n');
    lines.forEach((text, index) => {
      if (text === '') return;
      let line: JournalLine;
      try {
        line = JSON.parse(text) as JournalLine;
      } catch (error) {
        if (index === lines.length - 1) return; // torn by a crash mid-append: never acknowledged
        throw new Error(`${this.journalPath} line ${index + 1} is not valid JSON (${(error as Error).message})`);
      }
      if (line.generation < this.generation) return; // already in the snapshot
      if ('put' in line) {
        if (!isSchedule(line.put)) throw malformed(this.journalPath, line.put);
        schedules.set(keyOf(line.put), line.put);
      } else if ('delete' in line) {
        schedules.delete(keyOf(line.delete));
      } else {
        throw malformed(this.journalPath, line);
      }
    });
    return [...schedules.values()];
  }

  /** Resolves once the change is on disk. */
  record(change: ScheduleChange): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the schedule store ${this.path} is closed`));
    const line: JournalLine = { ...change, generation: this.generation };
    const batch = (this.pending ??= newBatch());
    batch.lines.push(`${JSON.stringify(line)}\n`);
    if (!this.writing) this.startWriting();
    return batch.done;
  }

  /** Waits for every recorded change, compacts, and releases the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writing) await this.writing;
    if (this.journalBytes > 0) await this.compact();
    await this.journal?.close();
    this.journal = undefined;
  }

  private startWriting(): void {
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const batch = this.pending;
      this.pending = undefined;
      try {
        await this.append(batch.lines.join(''));
        batch.resolve();
      } catch (error) {
        batch.reject(error);
      }
      if (this.journalBytes > Math.max(MIN_COMPACT_BYTES, this.snapshotBytes)) {
        // A failed compaction leaves snapshot and journal consistent; the next one tries again.
        await this.compact().catch(() => undefined);
      }
    }
  }

  private async append(text: string): Promise<void> {
    const journal = (this.journal ??= await open(this.journalPath, 'a'));
    try {
      await journal.appendFile(text, 'utf8');
      await journal.datasync();
    } catch (error) {
      // Cut off whatever part of the batch got in, so later lines do not follow a torn one.
      await journal.truncate(this.journalBytes).catch(() => undefined);
      throw error;
    }
    this.journalBytes += Buffer.byteLength(text);
  }

  private async compact(): Promise<void> {
    // Taking the list and moving to the next generation in one synchronous step
    // splits the changes exactly: older lines are in the snapshot, newer ones follow it.
    const schedules = this.state();
    const generation = ++this.generation;
    const parts: string[] = [];
    for (let i = 0; i < schedules.length; i += RENDER_SLICE) {
      parts.push(schedules.slice(i, i + RENDER_SLICE).map((s) => JSON.stringify(s)).join(','));
      await nextTurn();
    }
    const text = `{"version":${STORE_VERSION},"generation":${generation},"schedules":[${parts.join(',')}]}`;
    const temporary = `${this.path}.tmp`;
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);
    this.snapshotBytes = Buffer.byteLength(text);
    // Only lines of older generations can be in the journal now (writes wait for compaction).
    await truncate(this.journalPath, 0).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    this.journalBytes = 0;
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parse(text: string, path: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); move it away to start empty`);
  }
}

function malformed(path: string, value: unknown): Error {
  return new Error(`${path} holds a malformed schedule record: ${JSON.stringify(value)?.slice(0, 200)}`);
}
