import { runServiceProcess, serviceNamed } from '@truceline/workflows';

void runServiceProcess(serviceNamed('coalition-tasking'), process.env);
