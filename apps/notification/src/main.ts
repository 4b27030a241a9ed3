import { runServiceProcess, serviceNamed } from '@truceline/workflows';

void runServiceProcess(serviceNamed('notification'), process.env);
