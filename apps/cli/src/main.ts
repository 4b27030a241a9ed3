import { runCli } from './cli';

// Required by bin/truceline.js as well as run directly: no `require.main === module` guard.
runCli(process.argv.slice(2), process.env, {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('truceline: unexpected failure:', error);
    process.exitCode = 1;
  },
);
