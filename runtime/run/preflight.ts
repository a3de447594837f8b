// What is worth knowing before a run starts but does not stop it: printed
// once, above the progress view (and by --dry-run). A model without a known
// price is a notice of the run itself (runtime/run/setup.ts), recorded in its audit log.
import { findRepo } from '../../capabilities/git/repo.js';
import { termLine } from '../terminal/text.js';

export async function preflightWarnings(options: { workspace: string }): Promise<string[]> {
  const warnings: string[] = [];
  if (!(await findRepo(options.workspace))) {
    warnings.push(`${termLine(options.workspace)} is not in a git repository: git_status and git_diff will fail and no session commits are recorded (\`git init\` to have them)`);
  }
  return warnings;
}
