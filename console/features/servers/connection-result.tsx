import type { ConnectionTest } from "./queries";

/** What "Test connection" found: version and databases, or the error and its kind. */
export function ConnectionResult({ serverName, result }: { serverName: string; result: ConnectionTest }) {
  if (!result.ok && result.error === null && result.parallel) {
    // Connected, but the profile's PARALLEL engine cannot run: say what it lacks.
    return (
      <div role="alert" className="error-box" aria-label={`Connection test of ${serverName}`}>
        <strong>The parallel engine cannot run</strong> against {serverName}:
        <ul>
          {result.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      </div>
    );
  }
  if (!result.ok) {
    return (
      <div role="alert" className="error-box" aria-label={`Connection test of ${serverName}`}>
        <strong>Connection failed{result.errorKind ? ` (${result.errorKind})` : ""}:</strong> {result.error}
      </div>
    );
  }
  return (
    <div role="status" className="ok-box" aria-label={`Connection test of ${serverName}`}>
      <p>
        <strong>Connected</strong> to {serverName}: version {result.version ?? "unknown"}
        {result.dumpTool ? `, dump tool ${result.dumpTool}` : ""}.
      </p>
      <p>
        Databases a backup would cover ({result.databases.length} of {result.allDatabases.length}):{" "}
        {result.databases.length ? result.databases.join(", ") : "none"}
      </p>
      {result.parallel && (
        <p>
          Parallel engine: {result.parallel.ready ? `ready (${result.parallel.tool}, ${result.parallel.threads} threads)` : "not ready"}
          {result.parallel.problems.length > 0 && ` — ${result.parallel.problems.join("; ")}`}. It locks: {result.parallel.locks}
        </p>
      )}
      {result.warnings.length > 0 && (
        <ul>
          {result.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
