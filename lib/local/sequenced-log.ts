/**
 * An append-only, bounded in-memory log whose entries carry sequence numbers
 * from 1, with live subscribers: what the local runtime's Server-Sent Events
 * streams replay after a `Last-Event-ID` and then follow.
 */
export interface Sequenced {
  /** The entry's position in its log, from 1; never reused. */
  readonly seq: number;
}

export type SequencedListener<T> = (entry: T) => void;

export class SequencedLog<T extends Sequenced> {
  private readonly entries: T[] = [];
  private readonly listeners = new Set<SequencedListener<T>>();
  private last = 0;

  /**
   * @param memoryLimit entries kept at least; the oldest are dropped first (a
   *   client resuming further back than that misses them), in steps of a
   *   sixteenth of the limit rather than one per new entry, because dropping
   *   shifts the whole list
   * @param onEvict told about each dropped entry
   */
  constructor(
    private readonly memoryLimit: number,
    private readonly onEvict?: (entry: T) => void,
  ) {}

  /** The sequence number of the latest entry (0 when none). */
  get lastSeq(): number {
    return this.last;
  }

  /** The number the next entry gets. */
  get nextSeq(): number {
    return this.last + 1;
  }

  /** Appends an entry (its `seq` must be beyond `lastSeq`) and tells every subscriber. */
  append(entry: T): void {
    if (entry.seq <= this.last) throw new Error(`sequence number ${entry.seq} is not after ${this.last}`);
    this.remember(entry);
    for (const listener of this.listeners) listener(entry);
  }

  /** Appends an entry read back from disk: nobody is listening yet. */
  restore(entry: T): void {
    if (entry.seq > this.last) this.remember(entry);
  }

  /** Entries after sequence number `afterSeq`, oldest first. */
  after(afterSeq: number): T[] {
    if (afterSeq >= this.last) return [];
    // Sequence numbers only grow: search for the first one past `afterSeq`.
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle]!.seq <= afterSeq) low = middle + 1;
      else high = middle;
    }
    return this.entries.slice(low);
  }

  /** Every entry kept, oldest first. */
  all(): readonly T[] {
    return this.entries;
  }

  subscribe(listener: SequencedListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private remember(entry: T): void {
    this.entries.push(entry);
    this.last = entry.seq;
    if (this.entries.length > this.memoryLimit + Math.max(1, Math.floor(this.memoryLimit / 16))) {
      for (const old of this.entries.splice(0, this.entries.length - this.memoryLimit)) this.onEvict?.(old);
    }
  }
}
