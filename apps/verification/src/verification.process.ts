import { ServiceDefinition, VerificationService } from '@truceline/workflows';

/**
 * Verification as its own process (SPEC §5): requests verification for every new report and
 * confirms or rejects by quorum, fed by truceline.events.v1 in group truceline.verification.
 */
export const VERIFICATION_PROCESS: ServiceDefinition = {
  name: 'verification',
  defaultMetricsPort: 9464,
  create: ({ incidents }) => {
    const service = new VerificationService(incidents);
    return { handle: (event) => service.handle(event) };
  },
};
