/**
 * A tenant's dunning settings (issue 14; docs/EVENTS.md "Notifications"): reminder offsets and the
 * optional suspension delay. Billing role; a PUT replaces them whole (the same body again changes
 * nothing), a refused body writes nothing.
 */
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { MAX_DAYS, SettingsError, settingsFromBody } from '../../billing/dunning/rules.js';
import { readSettings, saveSettings } from '../../billing/dunning/settings.js';
import { AppError } from '../errors.js';

const Days = Type.Integer({ minimum: 1, maximum: MAX_DAYS });
const SettingsBody = Type.Object(
  {
    reminderDays: Type.Array(Days, {
      maxItems: 10,
      description: 'days after the due date, each reminded once',
    }),
    suspendAfterDays: Type.Optional(Type.Union([Days, Type.Null()])),
  },
  { additionalProperties: false },
);

const billing = { roles: ['billing' as const] };

export function dunningRoutes(app: FastifyInstance, deps: { pool: Pool; schema: string }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.put(
    '/v1/dunning-settings',
    {
      config: billing,
      schema: {
        summary: 'Set the overdue reminders and suspension of the tenant',
        tags: ['notifications'],
        body: SettingsBody,
      },
    },
    async (req) => {
      let settings;
      try {
        settings = settingsFromBody(req.body);
      } catch (err) {
        if (!(err instanceof SettingsError)) throw err;
        throw new AppError('INVALID_REQUEST', `${err.param}: ${err.message}`, {
          invalidParams: [{ param: err.param, reason: err.message }],
        });
      }
      await saveSettings(deps.pool, deps.schema, req.principal.tenant, settings);
      return settings;
    },
  );

  r.get(
    '/v1/dunning-settings',
    {
      config: billing,
      schema: { summary: 'The overdue reminders and suspension of the tenant', tags: ['notifications'] },
    },
    async (req) => readSettings(deps.pool, deps.schema, req.principal.tenant),
  );
}
