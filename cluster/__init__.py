"""Several nodes: the node registry and placement in Redis, routing of live requests to the
node holding each attempt, console messages across nodes (Redis Streams), signed calls
between nodes. Single-box mode (no PROCTOR_REDIS_URL) uses none of it."""
