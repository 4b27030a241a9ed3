import { runServiceProcess } from '@truceline/workflows';
import { COALITION_TASKING_PROCESS } from './coalition-tasking.process';

void runServiceProcess(COALITION_TASKING_PROCESS, process.env);
