// `as-mesh validate PATH…`: the control service's validation, offline. Exit status 1 on any error.
import { validatePaths } from "../config/index.ts";

export async function runValidate(paths: string[], options: { quiet?: boolean }): Promise<number> {
  const started = performance.now();
  const { errors, warnings, count } = await validatePaths(paths);
  const elapsed = performance.now() - started;
  const where = (source?: string) => (source ? ` (${source})` : "");
  for (const issue of errors) process.stdout.write(`Error: ${issue.path}: ${issue.message}${where(issue.source)}\n`);
  if (!options.quiet) {
    for (const issue of warnings) process.stdout.write(`Warning: ${issue.path}: ${issue.message}${where(issue.source)}\n`);
  }
  const verdict = errors.length ? `${errors.length} error(s)` : "valid";
  process.stdout.write(`${count} resource(s): ${verdict}, ${warnings.length} warning(s), checked in ${elapsed.toFixed(1)} ms\n`);
  return errors.length ? 1 : 0;
}
