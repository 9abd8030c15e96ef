/**
 * Fault injection for the crash-safety test (billing.md E.6 #8): BILLING_FAULT=after:STEP[:chunk:N]
 * kills the process (SIGKILL, as kill -9 would) right after that step committed — for chunk N, or
 * for every chunk when N is left out. Steps: renew, close, draft, finalize. Read once per call, so a
 * test sets it in the child's environment only.
 */
export function faultPoint(step: string, chunk?: number): void {
  const spec = process.env.BILLING_FAULT;
  if (!spec) return;
  const m = /^after:([a-z]+)(?::chunk:(\d+))?$/.exec(spec);
  if (!m || m[1] !== step) return;
  if (m[2] !== undefined && Number(m[2]) !== chunk) return;
  process.kill(process.pid, 'SIGKILL');
}
