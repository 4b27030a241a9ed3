import { runServiceProcess } from '@truceline/workflows';
import { NOTIFICATION_PROCESS } from './notification.process';

void runServiceProcess(NOTIFICATION_PROCESS, process.env);
