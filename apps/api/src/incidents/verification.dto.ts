import { FINDINGS } from '@truceline/domain';
import type { Finding, VerificationFindingSubmitted } from '@truceline/domain';
import { OneOf, Partner, Text, TextList } from '../http/dto-fields';
import { CommandBody } from './command-body';

export class SubmitFindingDto extends CommandBody implements VerificationFindingSubmitted {
  @Partner({ description: "The verifier's partner code: must be the token's partner" })
  verifier!: string;

  @OneOf(FINDINGS)
  finding!: Finding;

  @TextList(
    { maxItems: 50, maxLength: 500 },
    { description: 'References to the evidence (may be empty)', example: ['sat-img-2291'] },
  )
  evidence!: string[];

  @Text(2000, { required: false })
  note?: string;
}

export const VERDICTS = ['confirmed', 'rejected'] as const;

export class OverrideVerdictDto extends CommandBody {
  @OneOf(VERDICTS)
  verdict!: (typeof VERDICTS)[number];

  @Text(2000)
  reason!: string;
}
