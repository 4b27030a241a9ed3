import { runServiceProcess } from '@truceline/workflows';
import { VERIFICATION_PROCESS } from './verification.process';

void runServiceProcess(VERIFICATION_PROCESS, process.env);
