// What is worth knowing before a run starts but does not stop it: printed
// once, above the progress view (and by --dry-run).
import { findRepo } from '../../capabilities/git/repo.js';
import { FALLBACK_PRICE, isKnownModel } from '../providers/pricing.js';
import { termLine } from '../terminal/text.js';

export async function preflightWarnings(options: { workspace: string; model: string }): Promise<string[]> {
  const warnings: string[] = [];
  if (!(await findRepo(options.workspace))) {
    warnings.push(`${termLine(options.workspace)} is not in a git repository: git_status and git_diff will fail and no session commits are recorded (\`git init\` to have them)`);
  }
  if (!isKnownModel(options.model)) {
    warnings.push(`no price is known for model "${termLine(options.model)}": its cost is estimated at the highest known rate ($${FALLBACK_PRICE.input}/M input, $${FALLBACK_PRICE.output}/M output tokens), so --max-cost may stop it early`);
  }
  return warnings;
}
