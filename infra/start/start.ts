/**
 * `npm start` (see start-plan.ts): the embedded system in this process, or — with KAFKA_BROKERS
 * and DATABASE_URL — every process of distributed mode; without DATABASE_URL it refuses.
 */
import { planStart } from './start-plan';

const plan = planStart(process.env);
if (plan.kind === 'refuse') {
  console.error(plan.message);
  process.exit(2);
} else if (plan.kind === 'distributed') {
  console.log(
    '[start] KAFKA_BROKERS and DATABASE_URL set: starting every process of distributed mode',
  );
  import('../distributed/start-distributed')
    .then((launcher) => launcher.main())
    .catch((error: unknown) => {
      console.error('[start]', error);
      process.exit(1);
    });
} else {
  // The API's main starts the embedded runtime when imported.
  void import('../../apps/api/src/main');
}
