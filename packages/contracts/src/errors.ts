/**
 * The base of the errors a package throws for its callers to act on: a stable `code` to branch
 * on (the API answers by it), and a message that says what was wrong. A package's error class
 * names its codes and adds nothing else:
 *
 *   export class WebhookError extends CodedError<'WEBHOOK_INVALID' | 'WEBHOOK_LIMIT'> {}
 */
export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
    // The subclass's name, as a stack trace and a log line print it.
    this.name = new.target.name;
  }
}
