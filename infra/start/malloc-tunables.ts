/**
 * The C allocator's settings Truceline's processes start with: `npm start`, the container
 * image, and the tests and benches that start the built API. glibc reads GLIBC_TUNABLES once, as
 * a process starts, so whatever starts node sets it; other C libraries ignore it.
 *
 * - `mmap_threshold` fixed at 128 kB: glibc otherwise raises its threshold to the largest block
 *   freed (PGlite's WebAssembly compile buffers, TurboFan's zones, several MB each), and from then
 *   on keeps blocks that size in its heap, freed but resident, for good;
 * - `arena_max` 2: V8's background threads (compilers, garbage collector) share two arenas
 *   instead of one each, every arena holding freed memory of its own.
 *
 * Measured on the embedded API after the bench's HTTP load: 241–252 → 222–224 MB resident, same
 * rates and CPU per request (BENCHMARKS.md, "The embedded store").
 */
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2';
