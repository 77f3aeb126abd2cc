/**
 * A binary min-heap of due times with O(log n) insert, pop and removal of any
 * entry, so one timer armed for the earliest entry serves any number of
 * schedules. Entries due at the same instant come out in insertion order.
 */

export interface DueEntry<T> {
  readonly value: T;
  readonly dueAt: number;
}

interface Node<T> extends DueEntry<T> {
  readonly seq: number;
  /** Position in the heap array; -1 once the node has left the queue. */
  index: number;
}

/** Identifies an entry for `remove`. */
export type DueHandle = object;

export class DueQueue<T> {
  private readonly heap: Node<T>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(value: T, dueAt: number): DueHandle {
    const node: Node<T> = { value, dueAt, seq: this.nextSeq++, index: this.heap.length };
    this.heap.push(node);
    this.siftUp(node.index);
    return node;
  }

  peek(): DueEntry<T> | undefined {
    return this.heap[0];
  }

  pop(): DueEntry<T> | undefined {
    const top = this.heap[0];
    if (top) this.removeAt(0);
    return top;
  }

  /** Removes the entry if it is still queued; returns whether it was. */
  remove(handle: DueHandle): boolean {
    const node = handle as Node<T>;
    if (node.index < 0 || this.heap[node.index] !== node) return false;
    this.removeAt(node.index);
    return true;
  }

  private removeAt(index: number): void {
    const removed = this.heap[index]!;
    const last = this.heap.pop()!;
    removed.index = -1;
    if (last === removed) return;
    this.heap[index] = last;
    last.index = index;
    this.siftDown(index);
    this.siftUp(last.index);
  }

  private before(a: Node<T>, b: Node<T>): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    this.heap[i] = b;
    this.heap[j] = a;
    b.index = i;
    a.index = j;
  }

  private siftUp(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(this.heap[i]!, this.heap[parent]!)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(index: number): void {
    let i = index;
    const n = this.heap.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < n && this.before(this.heap[left]!, this.heap[smallest]!)) smallest = left;
      if (right < n && this.before(this.heap[right]!, this.heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}
