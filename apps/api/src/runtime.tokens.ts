import { Inject } from '@nestjs/common';

/**
 * The two things the API is built from, handed over by `main.ts` (or a test) rather than built
 * here: the composition root owns the store and services, the edge only uses them.
 */
export const RUNTIME = Symbol('Runtime');
export const CONFIG = Symbol('TrucelineConfig');

export const InjectRuntime = (): ParameterDecorator => Inject(RUNTIME);
export const InjectConfig = (): ParameterDecorator => Inject(CONFIG);
