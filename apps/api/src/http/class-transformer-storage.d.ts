// class-transformer keeps its decorators' metadata in this module, which its package types under
// another path: the validation pipe's valid-body path reads it (see validation.ts).
declare module 'class-transformer/cjs/storage' {
  export { defaultMetadataStorage } from 'class-transformer/types/storage';
}
