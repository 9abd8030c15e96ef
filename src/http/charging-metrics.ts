/** Charging metrics: answers by kind and Diameter result code, replays, sessions, expiries. */
import { Counter, Gauge, type Registry } from 'prom-client';

export function chargingMetrics(registry: Registry) {
  return {
    answers: new Counter({
      name: 'ocs_charging_answers_total',
      help: 'Charging answers by request kind and Diameter result code',
      labelNames: ['kind', 'result_code'],
      registers: [registry],
    }),
    replays: new Counter({
      name: 'ocs_charging_replays_total',
      help: 'Charging requests answered from a stored answer (retries, late originals)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    openSessions: new Gauge({
      name: 'ocs_sessions_open',
      help: 'Charging sessions opened and not yet closed by this engine process',
      registers: [registry],
    }),
    reservedMoney: new Gauge({
      name: 'ocs_reserved_money_nano',
      help: 'Money held by open reservations of this engine process, nano units (released by expiry included)',
      registers: [registry],
    }),
    cdrRecords: new Counter({
      name: 'ocs_cdr_records_total',
      help: 'CDR records by outcome: read, stored, rejected, duplicate',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    sessionExpiries: new Counter({
      name: 'ocs_session_expiries_total',
      help: 'Sessions closed by the engine because they went silent past their Tcc deadline',
      registers: [registry],
    }),
  };
}

export type ChargingMetrics = ReturnType<typeof chargingMetrics>;
