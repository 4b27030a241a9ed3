import { runServiceProcess, serviceNamed } from '@truceline/workflows';

void runServiceProcess(serviceNamed('scheduler'), process.env);
