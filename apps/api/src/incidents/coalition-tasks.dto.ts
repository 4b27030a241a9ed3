import { Text } from '../http/dto-fields';
import { CommandBody } from './command-body';

/** The body of acknowledge / decline / complete; `{}` is a valid answer. */
export class AnswerTaskDto extends CommandBody {
  @Text(2000, { required: false })
  reason?: string;
}
