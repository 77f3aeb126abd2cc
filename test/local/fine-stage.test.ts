import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InProcessFineStage } from '../../lib/local/fine-stage.ts';
import type { RestartRef } from '../../lib/ports.ts';

const ref = (restartCount: number): RestartRef => ({ key: 'web-0_default__app_', restartCount, restartAt: 0 });

describe('InProcessFineStage', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('send', () => {
    it.each([
      ['no lead', 0, 1_000, 1_000],
      ['a lead', 25, 1_000, 975],
      ['a lead longer than the delay', 25, 10, 0],
      ['a lead and a restart already due', 25, -50, 0],
    ])('calls back the lead before the delay ends, with %s', async (_case, leadMs, delayMs, expectedMs) => {
      const due: RestartRef[] = [];
      const stage = new InProcessFineStage(async (restart) => void due.push(restart), { leadMs });
      await stage.send(ref(2), delayMs);
      if (expectedMs > 0) {
        await vi.advanceTimersByTimeAsync(expectedMs - 1);
        expect(due).toEqual([]);
      }
      await vi.advanceTimersByTimeAsync(1);
      expect(due).toEqual([ref(2)]);
      expect(stage.pending).toBe(0);
    });

    it('holds each restart until it is due, and none after close', async () => {
      const due: number[] = [];
      const stage = new InProcessFineStage(async (restart) => void due.push(restart.restartCount), { leadMs: 25 });
      await stage.send(ref(1), 100);
      await stage.send(ref(2), 200);
      expect(stage.pending).toBe(2);
      await vi.advanceTimersByTimeAsync(75);
      expect(due).toEqual([1]);
      stage.close();
      await vi.advanceTimersByTimeAsync(1_000);
      expect(due).toEqual([1]);
      await expect(stage.send(ref(3), 10)).rejects.toThrow('stopped');
    });
  });
});
