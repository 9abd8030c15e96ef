/**
 * The active tariff: what is loaded, and a reload that keeps the last good tariff. The tariff folder
 * is shared by every tenant, so only the operator role reads or reloads it (a tenant's billing key
 * may not change what another tenant is rated with).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ActiveTariff } from '../../tariffs/active.js';
import { AppError } from '../errors.js';

export function tariffRoutes(app: FastifyInstance, tariff: ActiveTariff): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/v1/tariff',
    { config: { roles: ['operator'] }, schema: { summary: 'The tariff in force', tags: ['tariff'] } },
    async () => tariff.info(),
  );
  r.post(
    '/v1/tariff/reload',
    {
      config: { roles: ['operator'] },
      schema: {
        summary:
          'Reload the tariff folder (native or CGRateS CSV) without a restart; a bad one changes nothing',
        description:
          'Reads the configured TARIFF_DIR again. Requests in flight finish on the tariff they started with.',
        tags: ['tariff'],
      },
    },
    async () => {
      const result = await tariff.reload();
      if (!result.ok)
        throw new AppError(
          'INVALID_TARIFF',
          `${result.problems.length} problem(s); the previous tariff stays in force`,
          { problems: result.problems },
        );
      return result.info;
    },
  );
}
