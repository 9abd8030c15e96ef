/**
 * Whether an error says Redis or PostgreSQL is not answering (worth waiting for: a job waits and
 * tries again, the CLI says "run it again"), rather than that the work itself is wrong.
 */
const CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  // PostgreSQL: shutting down, starting, too many connections, connection exceptions.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  // An API request past its deadline (src/http/deadline.ts): what it waited for did not answer.
  'FST_ERR_HANDLER_TIMEOUT',
]);

// Redis Cluster: no slot map yet, a node gone, slots moving in a failover (ioredis' own messages
// and the server's CLUSTERDOWN / TRYAGAIN / MASTERDOWN replies; a MOVED or ASK that reaches us is a
// slot that moved in a failover while the client's map was stale: the next try goes to its new owner).
const MESSAGES =
  /connection is closed|max retries per request|connection terminated|the database system is (starting|shutting) down|the database system is in recovery mode|timeout exceeded when trying to connect|stream isn't writeable|loading the dataset in memory|command timed out|is not queryable|aborted due to connection close|cluster isn't ready|none of startup nodes is available|failed to refresh slots cache|too many cluster redirections|cluster is disconnect|node is disconnected|^CLUSTERDOWN|^TRYAGAIN|^MASTERDOWN|^MOVED \d+ |^ASK \d+ /i;

export function isUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && CODES.has(e.code)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
  // An AggregateError (a connection tried over several addresses) is unavailable if its parts are.
  return Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every(isUnavailable);
}
