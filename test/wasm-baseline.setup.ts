import { setFlagsFromString } from 'node:v8';

/**
 * In jest's processes, PGlite's wasm is compiled by V8's baseline compiler (Liftoff) alone,
 * with no tier-up to TurboFan.
 *
 * By default V8 recompiles a module's hot functions with TurboFan on the platform's background
 * threads, and Node ends a process only once those jobs are done, with no timer, socket or
 * handle of any kind open. A worker whose last test files had run statements on PGlite thus
 * stayed alive for seconds after jest told it to end (PGlite's largest functions take that long
 * to optimize on a loaded machine), and jest, after half a second, killed it and warned of tests
 * leaking through an improper teardown, after whichever suite happened to finish last. The tests
 * open short-lived databases, where the optimized code never pays back its compilation: an
 * in-memory database opened, 2,000 appends and a read took 2.2 s of CPU this way against 4.0–4.5
 * by default, and the process ended at once instead of seconds after its last statement.
 *
 * A setup file runs before each test file, so before any module that file compiles (the flags
 * are read at compile time and belong to the process). The API chooses its own compilation in
 * its main (compileEmbeddedWasmOptimized): the specs that start it as a process run it so.
 */
setFlagsFromString('--no-wasm-dynamic-tiering');
setFlagsFromString('--no-wasm-tier-up');
