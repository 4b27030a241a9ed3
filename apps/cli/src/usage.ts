/** Commands of SPEC §9 that later work builds; until then they say so and exit with 2. */
export const NOT_AVAILABLE_YET = ['replay', 'audit', 'verify', 'export'] as const;

export const USAGE = `Usage: truceline <command> [options]   (or: npm run cli -- <command> [options])

Commands:
  scenario FILE… [--url URL] [--secret S] [--run-id ID]
      Feeds scenarios (see scenarios/README.md) through the API of an instance in exercise
      mode, checking every step; exits with 1 if any scenario fails.
      --url     the API (default http://127.0.0.1:$PORT, PORT defaulting to 3000)
      --secret  the API's JWT secret (default TRUCELINE_JWT_SECRET, else the development
                secret in $TRUCELINE_DATA_DIR/.dev-jwt-secret, TRUCELINE_DATA_DIR defaulting to ./data)
      --run-id  replaces {run} in the scenarios (default: random)
  token --role ROLE [--partner CODE] [--sub SUBJECT] [--ttl SECONDS] [--secret S]
      Prints a bearer token the API accepts (roles: operator, verifier, ministry, auditor,
      service; verifier and ministry need --partner).
  help
      Shows this text.

Not available yet (exit code 2):
  replay [--projection NAME|all] [--until ISO|POSITION]
  audit INCIDENT_ID [--as-of ISO] [--format json|html] [--out FILE]
  verify
  export INCIDENT_ID --out FILE
`;
