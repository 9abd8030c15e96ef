/**
 * A process with the engine's handling of uncaught errors (tests/infra/uncaught.test.ts): a
 * dependency error thrown and rejected with no caller, then a bug.
 */
import { handleUncaught } from '../../src/infra/uncaught.js';

const say = (level: string) => (_obj: object, msg: string) => process.stdout.write(`${level}: ${msg}\n`);
handleUncaught({ warn: say('warn'), fatal: say('fatal') }, async () => {
  process.stdout.write('shutdown\n');
});
const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
setTimeout(() => {
  throw refused();
}, 10);
setTimeout(() => void Promise.reject(new Error('Connection terminated unexpectedly')), 20);
setTimeout(() => process.stdout.write('still up\n'), 50);
setTimeout(() => {
  throw new TypeError('undefined is not a function');
}, 80);
setTimeout(() => process.stdout.write('never\n'), 5000);
