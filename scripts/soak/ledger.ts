/**
 * The soak's accounting, from the client's side: what the runtime decided
 * (exit decisions) against what it delivered (restart notices on the stream).
 * Pure: no clock, no I/O — every instant is given — so it can be fed crafted
 * decisions and notices and shown to catch duplicates, early and lost restarts.
 */

/** An accepted exit decision: a restart the runtime promised. */
export interface DecidedRestart {
  readonly key: string;
  readonly restartCount: number;
  /** Epoch ms the restart is due, as the decision says. */
  readonly restartAt: number;
  /** The back-off applied after `finishedAt`. */
  readonly delayMs: number;
  /** Epoch ms the exit happened (the client's clock). */
  readonly finishedAt: number;
  /** Epoch ms the client learned the decision. */
  readonly decidedAt: number;
}

/** A restart notice as the stream delivered it. */
export interface ReceivedRestart {
  readonly restartId: string;
  readonly key: string;
  readonly restartCount: number;
  /** Epoch ms the restart was due, as the notice says. */
  readonly restartAt: number;
  /** Epoch ms the runtime dispatched it. */
  readonly firedAt: number;
  readonly recovered: boolean;
  /** Epoch ms the client received it. */
  readonly receivedAt: number;
}

export type ProblemKind = 'duplicate' | 'early' | 'lost' | 'unexpected' | 'conflicting-decision' | 'mismatch';

export interface Problem {
  readonly kind: ProblemKind;
  readonly key: string;
  readonly restartCount: number;
  readonly detail: string;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface LedgerSummary {
  /** Accepted exit decisions (each exit once, however many times it was posted). */
  readonly exits: number;
  /** Distinct restarts received. */
  readonly restarts: number;
  /** Notices for a restart already received (same restartId, or same key and restart count). */
  readonly duplicates: number;
  /** Restarts dispatched before their instant, or received before finishedAt + delay. */
  readonly early: number;
  /** Decided restarts never received. */
  readonly lost: number;
  /** Restarts received that no decision announced. */
  readonly unexpected: number;
  /** Two accepted exits answered with the same restart count. */
  readonly conflictingDecisions: number;
  /** A notice whose restartAt differs from its decision's. */
  readonly mismatches: number;
  /** Received restarts the runtime's sync dispatched (their timer was lost). */
  readonly recovered: number;
  /** firedAt − restartAt, server side. */
  readonly lateness: LatencySummary;
  /** receivedAt − restartAt: the lateness the workload sees. */
  readonly observedLateness: LatencySummary;
  /** The latest restarts (by firedAt − restartAt), for diagnosis. */
  readonly latest: readonly LateRestart[];
  /** The first problems of each kind, for diagnosis. */
  readonly problems: readonly Problem[];
}

export interface LateRestart {
  readonly key: string;
  readonly restartCount: number;
  readonly restartAt: string;
  readonly firedAt: string;
  readonly latenessMs: number;
  readonly recovered: boolean;
}

/** How many problems of each kind are kept as examples. */
const PROBLEM_SAMPLES_PER_KIND = 5;
/** How many of the latest restarts are kept. */
const LATEST_KEPT = 5;

interface Slot {
  decision?: DecidedRestart;
  notice?: ReceivedRestart;
  early: boolean;
}

export class SoakLedger {
  private readonly slots = new Map<string, Slot>();
  private readonly restartIds = new Set<string>();
  private readonly latenessMs: number[] = [];
  private readonly observedLatenessMs: number[] = [];
  private readonly problems: Problem[] = [];
  private readonly latest: ReceivedRestart[] = [];
  private exits = 0;
  private restarts = 0;
  private duplicates = 0;
  private early = 0;
  private conflictingDecisions = 0;
  private mismatches = 0;
  private recovered = 0;
  /** Decisions whose restart has been received. */
  private matched = 0;

  /** Records an accepted exit decision. */
  decide(decision: DecidedRestart): void {
    const slot = this.slot(decision.key, decision.restartCount);
    if (slot.decision) {
      this.conflictingDecisions++;
      this.note('conflicting-decision', decision, `two exits decided restart ${decision.restartCount} (finishedAt ${iso(slot.decision.finishedAt)} and ${iso(decision.finishedAt)})`);
      return;
    }
    this.exits++;
    slot.decision = decision;
    if (slot.notice) this.match(slot, slot.notice, decision);
  }

  /** Records a notice from the stream; `false` when it repeats one already received. */
  receive(notice: ReceivedRestart): boolean {
    const slot = this.slot(notice.key, notice.restartCount);
    if (this.restartIds.has(notice.restartId) || slot.notice) {
      this.duplicates++;
      const first = slot.notice;
      this.note('duplicate', notice, `restart ${notice.restartId} received again${first ? ` (first fired ${iso(first.firedAt)}, again ${iso(notice.firedAt)})` : ''}`);
      return false;
    }
    this.restartIds.add(notice.restartId);
    slot.notice = notice;
    this.restarts++;
    if (notice.recovered) this.recovered++;
    this.latenessMs.push(notice.firedAt - notice.restartAt);
    this.keepIfLatest(notice);
    if (notice.firedAt < notice.restartAt) this.markEarly(slot, notice, `fired ${notice.restartAt - notice.firedAt} ms before its restartAt ${iso(notice.restartAt)}`);
    if (slot.decision) this.match(slot, notice, slot.decision);
    return true;
  }

  /** Has the restart `restartCount` of `key` been received? */
  received(key: string, restartCount: number): boolean {
    return this.slots.get(slotId(key, restartCount))?.notice !== undefined;
  }

  /** Decided restarts not received yet. */
  get outstanding(): number {
    return this.exits - this.matched;
  }

  /** The running totals, cheaply. */
  counts(): { exits: number; restarts: number } {
    return { exits: this.exits, restarts: this.restarts };
  }

  summary(): LedgerSummary {
    let lost = 0;
    let unexpected = 0;
    const problems = [...this.problems];
    const sample = (kind: ProblemKind, problem: Problem) => {
      if (problems.filter((p) => p.kind === kind).length < PROBLEM_SAMPLES_PER_KIND) problems.push(problem);
    };
    for (const slot of this.slots.values()) {
      if (slot.decision && !slot.notice) {
        lost++;
        const { key, restartCount, restartAt } = slot.decision;
        sample('lost', { kind: 'lost', key, restartCount, detail: `due ${iso(restartAt)}, never received` });
      } else if (slot.notice && !slot.decision) {
        unexpected++;
        const { key, restartCount, firedAt } = slot.notice;
        sample('unexpected', { kind: 'unexpected', key, restartCount, detail: `fired ${iso(firedAt)}, no exit decision announced it` });
      }
    }
    return {
      exits: this.exits,
      restarts: this.restarts,
      duplicates: this.duplicates,
      early: this.early,
      lost,
      unexpected,
      conflictingDecisions: this.conflictingDecisions,
      mismatches: this.mismatches,
      recovered: this.recovered,
      lateness: summarize(this.latenessMs),
      observedLateness: summarize(this.observedLatenessMs),
      latest: this.latest.map((notice) => ({
        key: notice.key,
        restartCount: notice.restartCount,
        restartAt: iso(notice.restartAt),
        firedAt: iso(notice.firedAt),
        latenessMs: notice.firedAt - notice.restartAt,
        recovered: notice.recovered,
      })),
      problems,
    };
  }

  private match(slot: Slot, notice: ReceivedRestart, decision: DecidedRestart): void {
    this.matched++;
    this.observedLatenessMs.push(notice.receivedAt - decision.restartAt);
    if (notice.restartAt !== decision.restartAt) {
      this.mismatches++;
      this.note('mismatch', notice, `notice says due ${iso(notice.restartAt)}, the decision said ${iso(decision.restartAt)}`);
    }
    if (notice.firedAt < decision.restartAt) {
      this.markEarly(slot, notice, `fired ${decision.restartAt - notice.firedAt} ms before the decided restartAt ${iso(decision.restartAt)}`);
    }
    const earliest = decision.finishedAt + decision.delayMs;
    if (notice.receivedAt < earliest) {
      this.markEarly(slot, notice, `received ${earliest - notice.receivedAt} ms before finishedAt + delay (${iso(earliest)})`);
    }
  }

  private keepIfLatest(notice: ReceivedRestart): void {
    const lateness = (restart: ReceivedRestart) => restart.firedAt - restart.restartAt;
    if (this.latest.length === LATEST_KEPT && lateness(notice) <= lateness(this.latest.at(-1)!)) return;
    this.latest.push(notice);
    this.latest.sort((a, b) => lateness(b) - lateness(a));
    this.latest.length = Math.min(this.latest.length, LATEST_KEPT);
  }

  /** One early restart counts once, however many ways it was early. */
  private markEarly(slot: Slot, notice: ReceivedRestart, detail: string): void {
    if (slot.early) return;
    slot.early = true;
    this.early++;
    this.note('early', notice, detail);
  }

  private slot(key: string, restartCount: number): Slot {
    const id = slotId(key, restartCount);
    let slot = this.slots.get(id);
    if (!slot) {
      slot = { early: false };
      this.slots.set(id, slot);
    }
    return slot;
  }

  private note(kind: ProblemKind, at: { key: string; restartCount: number }, detail: string): void {
    if (this.problems.filter((problem) => problem.kind === kind).length >= PROBLEM_SAMPLES_PER_KIND) return;
    this.problems.push({ kind, key: at.key, restartCount: at.restartCount, detail });
  }
}

/** Nearest-rank percentile of unsorted samples (0 when there are none). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = Float64Array.from(samples).sort();
  return percentileOfSorted(sorted, p);
}

function percentileOfSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  return { p50: percentileOfSorted(sorted, 50), p99: percentileOfSorted(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : 0 };
}

function slotId(key: string, restartCount: number): string {
  return `${key}#${restartCount}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
