/**
 * `npm run soak -- --containers N --duration D [--kill-every D] [--json]`
 *
 * Exit code 0 when the run passed (restarts happened; none duplicated, lost
 * or early), 1 when it did not, 2 for a bad flag.
 */
import { UsageError } from '../../lib/cli/errors.ts';
import { parseSoakArgs } from './options.ts';
import { formatSoakReport } from './report.ts';
import { runSoak } from './soak.ts';

const USAGE_EXIT_CODE = 2;

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseSoakArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n(run with --help for usage)\n`);
      return USAGE_EXIT_CODE;
    }
    throw error;
  }
  const options = parsed.options;
  if (!options) return 0;
  // Progress goes to stderr, so --json leaves stdout one JSON object.
  const report = await runSoak(options, (line) => process.stderr.write(`soak: ${line}\n`));
  process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatSoakReport(report)}\n`);
  return report.passed ? 0 : 1;
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
}
