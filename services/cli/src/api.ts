/** Calls of the API through @volley/api-client, with its problems turned into CLI errors. */
import { CliError } from './output.ts';

interface Problem {
  status?: number;
  title?: string;
  detail?: string;
  errors?: { path: string; message: string; line?: number }[];
}

/** An answer of the typed client: data on success, an RFC 9457 problem otherwise. */
interface Answer<D> {
  data?: D;
  error?: unknown;
  response: Response;
}

/** A problem answer as an error: its status, detail and up to a few of the fields it names. */
class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    const fields = (problem.errors ?? [])
      .slice(0, 5)
      .map((e) => `\n  ${e.line !== undefined ? `line ${e.line}` : e.path}: ${e.message}`)
      .join('');
    super(
      `${status} ${problem.title ?? 'error'}: ${problem.detail ?? 'no detail'}${fields}`,
      'API_PROBLEM',
    );
  }
}

/** Why a request reached no server, in words (fetch's own message is only "fetch failed"). */
function unreachable(err: unknown, baseUrl: string): CliError {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
  const why = cause || (err instanceof Error ? err.message : String(err));
  return new CliError(`cannot reach the API at ${baseUrl}: ${why}`, 'API_UNREACHABLE');
}

/** The data of an answer, or an ApiError; a request that reaches no server is a CliError. */
export async function ok<D>(call: Promise<Answer<D>>, baseUrl: string): Promise<D> {
  let answer: Answer<D>;
  try {
    answer = await call;
  } catch (err) {
    throw unreachable(err, baseUrl);
  }
  if (answer.error !== undefined || !answer.response.ok) {
    const problem: Problem =
      typeof answer.error === 'object' && answer.error !== null
        ? answer.error
        : { detail: String(answer.error) };
    throw new ApiError(answer.response.status, problem);
  }
  return answer.data as D;
}
