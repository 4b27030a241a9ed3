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
  replay [--projection NAME|all]
      Rebuilds the read models (incidents, feeds; default all) from the log beside the live
      ones, catches up with the head and swaps them in atomically; the API keeps serving the
      old ones meanwhile. Nothing is appended, sent or published. A progress bar (events,
      events/s, ETA) on a terminal, a line per 10% otherwise.
      On PostgreSQL (DATABASE_URL) it runs beside the running system. The embedded store
      (TRUCELINE_DATA_DIR) is one process's: stop that instance first, or just restart it
      after a projection's version changed (it rebuilds the same way at start).
  replay --until ISO|POSITION [--into NAME] [--projection NAME|all] [--json]
      Builds the read models as they stood at a log position, or after the last event
      recorded by an ISO time (the recordedAt clock), into the schema NAME (default
      truceline_asof_<position>; it must not exist) and prints the incidents as a table, or
      as JSON with --json. The live read models are untouched. A time in the future or a
      position past the head is refused.
  replay --policy FILE --diff [--json]
      What-if: folds the whole log under the policy document in FILE (the body of
      POST /v1/policies, validated the same way) and prints, per incident that would have gone
      otherwise, the tiers reached and when, and where they differ the obligations (due, met
      or missed) and the DeadlineMissed that would or would not have happened, LIVE beside
      WHAT-IF; --json for the same as JSON. The facts people and partners recorded are kept; what the live policy
      derived (verification requests and quorum verdicts, coalition tasks, missed deadlines)
      is recomputed. A deadline counts as missed when it falls before the end of history: the
      store's exercise clock in a drill, else now. Nothing is appended and no read model is
      touched. Reads the store as verify does. Exit 0 with the report, 1 when FILE is
      unreadable, not JSON or not a valid policy (each bad field named), 2 on a usage error.
  help
      Shows this text.
`;
