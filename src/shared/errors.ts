/**
 * One error type for the whole gateway. Every failure a person or an MTA can see carries:
 * - `code`: a stable machine-readable identifier (e.g. "cert.no_email"),
 * - `status`: the HTTP status to answer with,
 * - `smtp`: the SMTP reply (basic code, enhanced status code) to answer with,
 * - `message`: one line a person can act on,
 * - `cause`: the underlying error, if any (never shown to remote parties).
 */
export interface SmtpReply {
  /** Basic reply code, e.g. 451 or 550. */
  code: number;
  /** Enhanced status code (RFC 3463), e.g. "4.3.0". */
  enhanced: string;
}

export type ErrorKind =
  | 'bad_input' // the caller sent something we cannot use (HTTP 400, SMTP 554 5.6.0)
  | 'not_found' // HTTP 404
  | 'conflict' // HTTP 409
  | 'unauthorized' // HTTP 401
  | 'forbidden' // HTTP 403
  | 'too_large' // HTTP 413, SMTP 552 5.3.4
  | 'rate_limited' // HTTP 429, SMTP 451 4.7.1
  | 'policy' // refused by policy: HTTP 403, SMTP 550 5.7.1
  | 'temporary' // try again later: HTTP 503, SMTP 451 4.3.0
  | 'internal'; // a bug or an unexpected failure: HTTP 500, SMTP 451 4.3.0 (never lose mail)

const defaults: Record<ErrorKind, { status: number; smtp: SmtpReply }> = {
  bad_input: { status: 400, smtp: { code: 554, enhanced: '5.6.0' } },
  not_found: { status: 404, smtp: { code: 550, enhanced: '5.1.1' } },
  conflict: { status: 409, smtp: { code: 451, enhanced: '4.3.0' } },
  unauthorized: { status: 401, smtp: { code: 530, enhanced: '5.7.0' } },
  forbidden: { status: 403, smtp: { code: 550, enhanced: '5.7.1' } },
  too_large: { status: 413, smtp: { code: 552, enhanced: '5.3.4' } },
  rate_limited: { status: 429, smtp: { code: 451, enhanced: '4.7.1' } },
  policy: { status: 403, smtp: { code: 550, enhanced: '5.7.1' } },
  temporary: { status: 503, smtp: { code: 451, enhanced: '4.3.0' } },
  internal: { status: 500, smtp: { code: 451, enhanced: '4.3.0' } },
};

export interface AppErrorOptions {
  kind?: ErrorKind;
  status?: number;
  smtp?: SmtpReply;
  cause?: unknown;
  /** Extra structured detail safe to show to the caller (e.g. which field). */
  detail?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly status: number;
  readonly smtp: SmtpReply;
  readonly detail?: Record<string, unknown>;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.kind = options.kind ?? 'bad_input';
    this.status = options.status ?? defaults[this.kind].status;
    this.smtp = options.smtp ?? defaults[this.kind].smtp;
    this.detail = options.detail;
  }

  /** The SMTP reply line for this error, e.g. "451 4.3.0 Directory unavailable, try again later". */
  smtpLine(): string {
    return `${this.smtp.code} ${this.smtp.enhanced} ${this.message}`;
  }

  toJSON(): { error: { code: string; message: string; detail?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.detail ? { detail: this.detail } : {}) } };
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Throws a bad_input AppError with `code` and `message` unless `condition` holds. */
export function assert(condition: unknown, code: string, message: string, options?: AppErrorOptions): asserts condition {
  if (!condition) throw new AppError(code, message, options);
}

/**
 * Wraps anything thrown into an AppError. Known AppErrors pass through; anything else becomes
 * `fallbackCode` of kind `internal` (so the worker answers 4xx and the MTA keeps the mail).
 */
export function toAppError(e: unknown, fallbackCode = 'internal', fallbackMessage = 'Internal error'): AppError {
  if (e instanceof AppError) return e;
  return new AppError(fallbackCode, fallbackMessage, { kind: 'internal', cause: e });
}
