import { DECISIONS } from '@truceline/domain';
import type { Decision, DecisionRecorded } from '@truceline/domain';
import { OneOf, PartnerList, Text, TextList } from '../http/dto-fields';
import { CommandBody } from './command-body';

export class RecordDecisionDto extends CommandBody implements DecisionRecorded {
  @Text(200, { description: 'Who authorized it', example: 'UA National Security Council' })
  authority!: string;

  @OneOf(DECISIONS)
  decision!: Decision;

  @Text(4000)
  rationale!: string;

  @TextList({ maxItems: 20, maxLength: 500 }, { required: false })
  optionsConsidered?: string[];

  @PartnerList({
    required: false,
    description: 'Partners the decision is released to; all partners when absent',
  })
  releasableTo?: string[];
}
