import { ArgumentMetadata, Injectable, Param, PipeTransform } from '@nestjs/common';
import { ValidationError } from '@truceline/domain';
import { isUUID } from 'class-validator';
import { TASK_ID } from './patterns';

const invalid = (field: string, message: string) =>
  new ValidationError(`invalid path: ${field}`, [{ field, message }]);

/** Incident ids are UUIDs (SPEC §4): anything else is a 400, not a lookup. */
@Injectable()
export class UuidPipe implements PipeTransform<string, string> {
  transform(value: string, { data }: ArgumentMetadata): string {
    const field = data ?? 'id';
    if (!isUUID(value)) throw invalid(field, `${field} must be a UUID`);
    return value.toLowerCase();
  }
}

@Injectable()
export class TaskIdPipe implements PipeTransform<string, string> {
  transform(value: string, { data }: ArgumentMetadata): string {
    const field = data ?? 'taskId';
    if (!TASK_ID.test(value)) {
      throw invalid(field, `${field} must be 1 to 200 letters, digits or . _ : -`);
    }
    return value;
  }
}

/** The incident id of the path; document it with ApiIncidentId. */
export const IncidentIdParam = () => Param('id', UuidPipe);
/** The task id of the path; document it with ApiTaskId. */
export const TaskIdParam = () => Param('taskId', TaskIdPipe);
