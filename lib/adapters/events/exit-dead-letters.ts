/**
 * `ExitDeadLetters` on AWS: the exit dead-letter queue (SQS), where
 * EventBridge also parks the exit events it could not deliver and Lambda the
 * ones that failed every retry. Each rejected event is one message an
 * operator can read on its own: which bus event carried it (`eventId`), where
 * in its batch (`index`), the event itself, and what is wrong with it.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { forEachConcurrently } from '../../concurrency.ts';
import type { ExitDeadLetters, RejectedExit } from '../../ports.ts';

/** Tells these messages apart from the others in the same queue (EventBridge's and Lambda's, which carry the bare event). */
export const REJECTED_EXIT_KIND = 'RejectedExitEvent';
/** SQS's default largest message body. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Issues listed per message; the count says how many there were. */
export const MAX_LISTED_ISSUES = 100;
/** SendMessage calls in flight at once (a batch holds at most 100 events). */
const SEND_CONCURRENCY = 10;

export interface SqsExitDeadLettersOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
}

export class SqsExitDeadLetters implements ExitDeadLetters {
  constructor(private readonly options: SqsExitDeadLettersOptions) {}

  async send(rejected: readonly RejectedExit[]): Promise<void> {
    await forEachConcurrently(rejected, SEND_CONCURRENCY, async (item) => {
      await this.options.client.send(new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: deadLetterBody(item) }));
    });
  }
}

/**
 * The message body: the rejection as JSON. An event too large to fit beside
 * its issues (EventBridge takes events up to 256 KB) is left out and named:
 * the bus archive keeps it under its `eventId`.
 */
export function deadLetterBody(rejected: RejectedExit): string {
  const issues = rejected.issues.slice(0, MAX_LISTED_ISSUES);
  const base = {
    kind: REJECTED_EXIT_KIND,
    eventId: rejected.eventId,
    source: rejected.source,
    index: rejected.index,
    issueCount: rejected.issues.length,
    issues,
  };
  const whole = JSON.stringify({ ...base, event: rejected.event });
  const bytes = Buffer.byteLength(whole);
  if (bytes <= MAX_MESSAGE_BYTES) return whole;
  return JSON.stringify({ ...base, event: null, eventOmitted: `the message would be ${bytes} bytes; the event is in the bus archive under its eventId` });
}
