/**
 * APIerSv1.LoadTariffPlanFromFolder (utils.AttrLoadTpFromFolder {FolderPath, DryRun, Validate,
 * APIOpts, Caching}) on the engine's own tariff reload (tariffs/active.ts, as POST /v1/tariff/reload):
 * the folder is loaded and compiled whole, and swapped in only if all of it is good; DryRun (and
 * Validate, which the engine always does) checks without swapping.
 *
 * Path safety: CGRateS loads any folder of the server. Here the folder must be the configured root
 * (TARIFF_FOLDER_ROOT) or under it, symbolic links resolved; anything else is INVALID_PATH, the
 * same answer as a folder that does not exist, and a path outside the root is never looked at (the
 * method must not tell what exists elsewhere on the server). A relative FolderPath is under the root.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Problem } from '../tariffs/errors.js';
import type { CgrContext } from './context.js';
import { CgrError, unsupportedFormat } from './errors.js';
import { fields, type Obj } from './params.js';

/** utils.ErrInvalidPath. */
export const INVALID_PATH = 'INVALID_PATH';
/** How many of a bad folder's problems the error string names (all are logged). */
const NAMED_PROBLEMS = 5;

const inside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/** The folder's real path when it is the root or under it and is a directory; else INVALID_PATH. */
export async function folderUnder(rootDir: string, folderPath: string): Promise<string> {
  const root = resolve(rootDir);
  const asked = resolve(root, folderPath);
  // Lexically outside: refused before the file system is asked anything.
  if (!inside(root, asked)) throw new CgrError(INVALID_PATH);
  const [realRoot, real] = await Promise.all([realpath(root), realpath(asked).catch(() => null)]);
  if (!real || !inside(realRoot, real)) throw new CgrError(INVALID_PATH);
  if (!(await stat(real)).isDirectory()) throw new CgrError(INVALID_PATH);
  return real;
}

function refusal(root: string, problems: Problem[]): CgrError {
  const named = problems
    .slice(0, NAMED_PROBLEMS)
    .map((p) => `${isAbsolute(p.file) ? relative(root, p.file) : p.file}: ${p.message}`)
    .join('; ');
  const more = problems.length > NAMED_PROBLEMS ? `; and ${problems.length - NAMED_PROBLEMS} more` : '';
  return unsupportedFormat(`tariff plan, ${problems.length} problem(s), nothing loaded: ${named}${more}`);
}

export const tariffLoadMethods = {
  /** "OK" once the folder is in force (or, with DryRun, would load). */
  async 'APIerSv1.LoadTariffPlanFromFolder'(arg: Obj, c: CgrContext) {
    const f = fields(arg, 'AttrLoadTpFromFolder');
    const folderPath = f.str('FolderPath');
    // CGRateS writes this one without the brackets of NewErrMandatoryIeMissing.
    if (!folderPath) throw new CgrError('MANDATORY_IE_MISSING:FolderPath');
    const dryRun = f.bool('DryRun');
    // The engine validates every load, and has no caches to reload: read for their types only.
    f.bool('Validate');
    f.str('Caching');
    const dir = await folderUnder(c.tariffRoot, folderPath);
    const outcome = dryRun ? await c.tariff.check(dir) : await c.tariff.reload(dir);
    if (!outcome.ok) {
      c.log.info({ dir, problems: outcome.problems }, 'LoadTariffPlanFromFolder: refused');
      throw refusal(resolve(c.tariffRoot), outcome.problems);
    }
    if (!dryRun) c.log.info({ dir, version: outcome.info.version }, 'LoadTariffPlanFromFolder: in force');
    return 'OK';
  },
};
