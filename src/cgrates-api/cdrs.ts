/**
 * CDRsV2.GetCDRs, APIerSv2.GetCDRs and APIerSv2.CountCDRs: utils.RPCCDRsFilter in, engine.ExternalCDR
 * out (Usage a Go duration string for voice, Cost exact), from the engine's rated CDRs and records.
 * Filters the facade does not hold are NOT_IMPLEMENTED rather than ignored (cdr-filter.ts). No
 * OrderID: the tables have no sequence, and a derived number would not stay put as rows arrive.
 */
import { cdrFilterOf } from './cdr-filter.js';
import type { CdrRow } from './cdr-reads.js';
import { CgrError, notImplemented } from './errors.js';
import { goTime } from './go-time.js';
import { nanoNumber } from './money.js';
import { usageToBase } from '../rating/units.js';
import type { Obj } from './params.js';
import type { CgrContext } from './context.js';

/** Go's time.Duration.String() of whole nanoseconds ("1m35s", "1.5s", "0s"). */
export function goDurationString(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e9) return ns % 1e6 === 0 ? `${ns / 1e6}ms` : ns % 1e3 === 0 ? `${ns / 1e3}µs` : `${ns}ns`;
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  const sec = `${String(s).replace(/^(\d+\.\d*?)0+$/, '$1')}s`;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${sec}`;
}

function externalCdr(r: CdrRow, tenant: string) {
  // Rows hold seconds for voice (cdr-reads.ts); CGRateS's Usage is a time.Duration (nanoseconds).
  const usage = r.tor === 'voice' ? usageToBase('voice', Number(r.usage)) : Math.round(Number(r.usage));
  const time = goTime(r.answer_time);
  return {
    CGRID: r.id,
    RunID: '*default',
    OriginHost: '',
    Source: r.source === 'cdr' ? '*cdr_file' : '*sessions',
    OriginID: r.id,
    ToR: `*${r.tor}`,
    RequestType: '*prepaid',
    Tenant: tenant,
    Category: r.category,
    Account: r.account_id,
    Subject: r.account_id,
    Destination: r.destination,
    SetupTime: time,
    AnswerTime: time,
    Usage: r.tor === 'voice' ? goDurationString(usage) : String(usage),
    ExtraFields: {},
    CostSource: '',
    Cost: nanoNumber(Number(r.cost_nano)),
    CostDetails: null,
    ExtraInfo: '',
    PreRated: false,
  };
}

function readsOf(c: CgrContext) {
  if (!c.cdrs) throw notImplemented('CDRs need PostgreSQL (the engine was started without it)');
  return c.cdrs;
}

async function getCdrs(arg: Obj, c: CgrContext) {
  const rows = await readsOf(c).list(cdrFilterOf(arg, c));
  if (!rows.length) throw new CgrError('NOT_FOUND');
  return rows.map((r) => externalCdr(r, c.principal.tenant));
}

export const cdrMethods = {
  'CDRsV2.GetCDRs': getCdrs,
  'APIerSv2.GetCDRs': getCdrs,
  async 'APIerSv2.CountCDRs'(arg: Obj, c: CgrContext) {
    return readsOf(c).count({ ...cdrFilterOf(arg, c), limit: 0, offset: 0 });
  },
};
