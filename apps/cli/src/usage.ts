/** Commands of SPEC §9 that later work builds; until then they say so and exit with 2. */
export const NOT_AVAILABLE_YET = ['replay'] as const;

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
  audit INCIDENT_ID [--as-of ISO] [--format json|html] [--out FILE] [--url URL] [--secret S | --token T]
      The incident and its decision trail as they could be known at --as-of (on the recordedAt
      clock; default now): timeline with late-recorded facts, tier changes with the rule and
      policy version, decisions, obligations met or missed and by whom, notifications.
      --format  json (default) or html: one self-contained file with the timeline chart, the
                tables and an EXERCISE banner for drill data, for reading and printing
      --out     write to FILE instead of printing
      --token   an auditor's bearer token; by default the CLI signs one with the API's secret
                (--secret, TRUCELINE_JWT_SECRET, or the development secret as for scenario)
  verify [--key VKEY] [--json]
      Checks the whole log for tampering (SPEC §10): recomputes every leaf from the stored
      events, checks every checkpoint's signature and root and the consistency of consecutive
      checkpoints; prints a summary and names the first bad position. Exits 0 only when all holds.
      --key   the log's public key as GET /v1/log/checkpoint shows it (default: the public half
              of TRUCELINE_SIGNING_KEY, else of the development key in $TRUCELINE_DATA_DIR)
      Reads the store directly: DATABASE_URL, else the embedded store in TRUCELINE_DATA_DIR
      (stop that instance first: the embedded store is one process's).
  export INCIDENT_ID --out FILE
      Writes the incident's events with a signed checkpoint and an inclusion proof per event;
      a partner checks it offline with \`node tools/verify-export.mjs FILE --key VKEY\`.
      Reads the store as verify does, and signs with TRUCELINE_SIGNING_KEY (or the
      development key) when no checkpoint covers the incident yet.
  help
      Shows this text.

Not available yet (exit code 2):
  replay [--projection NAME|all] [--until ISO|POSITION]
`;
