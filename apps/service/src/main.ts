import { runServiceProcess, ServiceDefinition, serviceNamed } from '@truceline/workflows';

/**
 * Every service of SERVICES as a process of its own, named by its argument:
 * `node dist/apps/service/src/main.js verification` (or scheduler, notification,
 * coalition-tasking). A new service is a new definition in SERVICES, not a new app.
 */
let definition: ServiceDefinition;
try {
  definition = serviceNamed(process.argv[2]);
} catch (error) {
  console.error(`[service] ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
void runServiceProcess(definition, process.env);
