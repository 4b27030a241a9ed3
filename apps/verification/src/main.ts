import { runServiceProcess, serviceNamed } from '@truceline/workflows';

void runServiceProcess(serviceNamed('verification'), process.env);
