/** The soak's readable summary (`--json` prints the report object instead). */
import { formatDuration } from '../../lib/core/index.ts';
import type { SoakReport } from './soak.ts';

export function formatSoakReport(report: SoakReport): string {
  const lines: string[] = [];
  const verdict = report.passed ? 'PASSED' : 'FAILED';
  const kills = report.killEveryMs !== null ? `, kill -9 about every ${formatDuration(report.killEveryMs)}` : '';
  lines.push(`soak ${verdict}: ${report.containers} containers for ${formatDuration(report.durationMs)}${kills}`);
  lines.push(
    `  exits ${report.exits}  restarts ${report.restarts}  duplicates ${report.duplicates}  lost ${report.lost}  early ${report.early}  unexpected ${report.unexpected}`,
  );
  lines.push(
    `  lateness (firedAt - restartAt) p50 ${report.latenessP50Ms} ms  p99 ${report.latenessP99Ms} ms  max ${report.latenessMaxMs} ms; as received p99 ${report.observedLateness.p99} ms`,
  );
  lines.push(`  ${report.eventsPerSec} events/s (exits + restarts over ${formatDuration(report.wallMs)} of wall time), ${report.exitsPerSec} exits/s while crashing`);
  lines.push(
    `  kills ${report.kills}  downtime ${report.downtimeMs} ms  restarts recovered by the sync ${report.restartsRecovered}  drain ${report.drainMs} ms${report.drainTimedOut ? ' (gave up waiting)' : ''}`,
  );
  const posting = report.client.posting;
  const statuses = Object.entries(posting.retriedStatuses).map(([status, count]) => `${status}×${count}`).join(' ');
  lines.push(
    `  client: CPU ${report.client.cpuPercent} %, ${posting.requests} requests (${posting.meanBatch} exits each), ${posting.failedRequests} retried (${posting.connectionErrors} connection errors${statuses ? `, ${statuses}` : ''}), ${posting.retriedExits} exits retried, ${posting.rejectedExits} refused; stream connected ${report.client.streamConnects}×`,
  );
  if (report.runtime.source === 'data-dir') {
    const events = Object.entries(report.runtime.events).map(([type, count]) => `${type} ${count}`).join(', ');
    lines.push(`  runtime: restart log ${report.runtime.restartLog} (${report.runtime.restartLogDuplicates} repeated); events ${events || 'none'}`);
    const process = report.runtime.process;
    lines.push(
      `  runtime process: CPU ${process.cpuPercent ?? '?'} %, ${process.starts} starts (start-up ${process.startupMs.join(', ')} ms), ${process.unexpectedExits} unexpected exits, ${process.errors} errors, ${process.warnings} warnings`,
    );
    for (const [message, count] of Object.entries(process.messages)) lines.push(`    ${count}× ${message}`);
  } else {
    lines.push(`  runtime: ${report.runtime.restartRecoveredEvents ?? '?'} RestartRecovered events${report.runtime.capped ? ' (capped)' : ''}`);
  }
  const answers = Object.entries(report.client.unexpectedAnswers);
  if (answers.length > 0) lines.push(`  unexpected answers: ${answers.map(([answer, count]) => `${answer}×${count}`).join(', ')}`);
  if (report.timeline.length > 0) {
    lines.push(`  exits/s over time: ${report.timeline.map((point) => `${point.atS}s:${Math.round(point.exitsPerSec)}`).join(' ')}`);
  }
  const [latest] = report.latest;
  if (latest) {
    lines.push(`  latest restart: ${latest.key} restart ${latest.restartCount}, ${latest.latenessMs} ms after ${latest.restartAt}${latest.recovered ? ', recovered by the sync' : ''}`);
  }
  for (const problem of report.problems) lines.push(`  ${problem.kind}: ${problem.key} restart ${problem.restartCount}: ${problem.detail}`);
  for (const rejection of posting.rejections) lines.push(`  refused: ${rejection}`);
  return lines.join('\n');
}
