// The governance file `choragen init` writes. It must load with our own
// loader and lint without warnings (spec/policy/load.spec.ts checks both).
// impl's `commands` come from the project (suggestCommands): the usual test,
// lint and type-check commands of a Node project, and nothing else.

/** A command `init` lets impl run, with why. */
export interface SuggestedCommand {
  argv: string[];
  reason: string;
}

/** What `init` reads of package.json. */
export interface NodeProject {
  scripts?: Record<string, unknown>;
  dependencies?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
}

/** npm's placeholder for a project without tests. */
const NO_TEST_SCRIPT = /no test specified/;
/** Scripts that check the code without changing anything outside it: tests, linters, type checkers. */
const CHECK_SCRIPT = /^(test|lint|typecheck|type-check|check-types|types|tsc)(:[\w:-]+)?$/;
const MAX_SCRIPTS = 8;

/** The test, lint and type-check commands of a Node project (null: no package.json). */
export function suggestCommands(project: NodeProject | null, hasTsconfig: boolean): SuggestedCommand[] {
  if (project === null) return [];
  const scripts = Object.entries(project.scripts ?? {}).filter(([, v]) => typeof v === 'string') as [string, string][];
  const out: SuggestedCommand[] = [];
  const test = scripts.find(([name]) => name === 'test');
  if (test && !NO_TEST_SCRIPT.test(test[1])) out.push({ argv: ['npm', 'test'], reason: "the project's tests (package.json scripts.test)" });
  else out.push({ argv: ['node', '--test'], reason: "Node's built-in test runner" });
  for (const [name] of scripts.filter(([n]) => n !== 'test' && CHECK_SCRIPT.test(n)).slice(0, MAX_SCRIPTS)) {
    out.push({ argv: ['npm', 'run', name], reason: `package.json scripts.${name}` });
  }
  const deps = { ...project.dependencies, ...project.devDependencies };
  if ('typescript' in deps || hasTsconfig) out.push({ argv: ['npx', 'tsc', '--noEmit'], reason: 'type-check with the project\'s TypeScript' });
  return out;
}

function commandsSection(commands: readonly SuggestedCommand[]): string {
  const intro = `    # Commands impl may run with run_command: each argv is a prefix of the command
    # (more arguments may follow; add exact: true to forbid them), run directly,
    # never through a shell, in a sandbox that writes only where impl may change
    # files, with no network and no environment.`;
  if (commands.length === 0) {
    return `${intro} None yet (no package.json was found), so impl
    # is not offered run_command. For example:
    # commands:
    #   allow:
    #     - argv: ["npm", "test"]
    #     - argv: ["node", "--test"]
`;
  }
  const rules = commands.map((c) => `        - argv: [${c.argv.map((a) => JSON.stringify(a)).join(', ')}]\n          reason: ${JSON.stringify(c.reason)}`).join('\n');
  return `${intro} Found in this project:
    commands:
      allow:
${rules}
`;
}

/** The default governance file, with `commands` for impl (suggestCommands). */
export function defaultPolicyYaml(commands: readonly SuggestedCommand[] = []): string {
  return DEFAULT_POLICY_TEMPLATE.replace('__IMPL_COMMANDS__\n', commandsSection(commands));
}

const DEFAULT_POLICY_TEMPLATE = `# choragen.governance.yaml: what agent sessions may read and change.
#
# Every path is relative to the workspace root, with symlinks resolved,
# before a rule sees it. Patterns are globs (picomatch, dotfiles included):
# "*" stays within one directory, "**" crosses directories; a pattern without
# "/" only matches at the root, so write "**/name" to match everywhere.
# Actions: create, modify, delete, move; a rule without "actions" covers all four.
#
# Order of decision for a change: any deny (global or the role's) -> approve
# -> the role's allow -> otherwise denied.
# Check a decision:  choragen policy:check --role impl --action modify src/index.ts
# Check this file:   choragen policy:lint

# Rules for every role.
mutations:
  # Never changed by any session, whatever a role allows.
  deny:
    - pattern: "**/.env*"
      reason: "environment files hold secrets (and direnv runs .envrc on cd)"
    - pattern: "**/*.key"
      reason: "key files hold secrets"
    - pattern: "**/*.pem"
      reason: "certificate and key files hold secrets"
    - pattern: "**/.git/**"
      reason: "git internals (hooks, config, or a .git file naming another repository) run code on the next git command"
    - pattern: "choragen.governance.yaml"
      reason: "a session may not edit its own policy"
    - pattern: ".choragen/**"
      reason: "metrics, audit log and transcripts are written by choragen only"
    - pattern: "**/{.npmrc,.yarnrc,.yarnrc.yml,.pnpmfile.cjs}"
      reason: "package manager settings run code on the next install (node-options, yarnPath, hooks) and hold tokens"
    - pattern: "**/{.husky,.githooks,.lefthook}/**"
      reason: "git hooks run on the next commit or push"
    - pattern: "**/{lefthook,.lefthook,lefthook-local}.{yml,yaml,json,toml}"
      reason: "git hooks run on the next commit or push"
    - pattern: "**/.pre-commit-config.yaml"
      reason: "git hooks run on the next commit or push"
    - pattern: "**/.hg/**"
      reason: "a nested Mercurial repository's hgrc runs hooks on the next hg command"

  # Allowed only after a human says yes (shown the diff; --auto-approve says yes).
  approve:
    - pattern: "package.json"
      actions: [modify]
      reason: "review dependency changes"
    - pattern: "**/{.github/workflows/**,.gitlab-ci.yml,.circleci/**}"
      reason: "CI runs it with the repository's secrets on the next push"
    - pattern: "**/{.gitattributes,.gitmodules}"
      reason: "names filter and diff drivers that run commands, or repositories git fetches"
    - pattern: "**/{.vscode/tasks.json,.vscode/settings.json,.devcontainer/**,.devcontainer.json}"
      reason: "the editor runs these when the folder is opened"
    - pattern: "**/{.lintstagedrc,.lintstagedrc.*,lint-staged.config.*}"
      reason: "lint-staged runs the commands it names on the next commit"
    - pattern: "**/.cargo/{config,config.toml}"
      reason: "cargo runs the wrappers and runners it names on the next build"

# Commands (run_command): which programs a role may run, as argv prefixes, each
# element a literal or a glob. Order: any deny (here or the role's) -> approve
# -> the role's allow -> otherwise denied. Shells, env, xargs and code given
# inline (node -e, python -c) are always refused.
# Check one:  choragen policy:check --role impl --command "npm test"
commands:
  deny:
    - argv: ["npm", "publish"]
      reason: "publishing is a human's decision"

# Reads are allowed except where a rule below denies them.
reads:
  deny:
    - pattern: "**/.env*"
    - pattern: "**/*.key"
    - pattern: "**/*.pem"
    - pattern: "**/.git/**"
    - pattern: ".choragen/**"
    - pattern: "**/.npmrc"
      reason: "npm settings hold registry tokens"

# Roles: control (plans, delegates, reviews) and impl (edits files) are built
# in; define more below. A role's section says what it may change (allow /
# approve / deny: a role missing here, or without rules, may change nothing)
# and, optionally:
#   description: one line, shown to a role that may start it
#   prompt:      a workspace file holding its system prompt (built-in for control and impl)
#   tools:       the tools it is offered (default: the built-in role's; for a new role the
#                read-only ones: read_file, list_files, search_files, git_status, git_diff,
#                chain_status, task_list, complete_task)
#   model:       its model (default: --model or CHORAGEN_MODEL)
#   provider:    anthropic (default) or openai (any OpenAI-compatible endpoint:
#                OPENAI_BASE_URL, OPENAI_API_KEY; e.g. Ollama at http://localhost:11434/v1)
#   spawns:      the roles its sessions may start (control: [impl] unless set)
# A child never holds a tool its parent could not hand on. Check with:
#   choragen capabilities:manifest --role impl
roles:
  impl:
    allow:
      - pattern: "src/**"
      - pattern: "lib/**"
      - pattern: "test/**"
      - pattern: "spec/**"
      - pattern: "docs/**"
    deny:
      # Moving a task between states is control's decision; an impl session
      # only submits its in-progress task for review (complete_task).
      - pattern: "docs/tasks/{backlog,todo,in-review,done}/**"
        actions: [move]
        reason: "only control moves tasks between these states"
      - pattern: "docs/tasks/{backlog,todo,in-progress,done}/**"
        actions: [create]
        reason: "impl only submits its task for review (in-review)"
      - pattern: "docs/tasks/**"
        actions: [delete]
        reason: "task files are never deleted by impl"
__IMPL_COMMANDS__
    # tools: [read_file, list_files, search_files, write_file, edit_file, delete_file,
    #         move_file, git_status, git_diff, chain_status, task_list, run_command, complete_task]

  control:
    allow:
      # Plans, designs and the task board (docs/tasks/**).
      - pattern: "docs/**"
    # tools: [read_file, list_files, search_files, git_status, git_diff, spawn_impl_session,
    #         chain_status, task_list, task_start, task_approve, task_rework, complete_task]
    # spawns: [impl, reviewer]     # to let control start the reviewer below

  # A read-only reviewer, on a cheaper model of another provider. It has no
  # allow rules, so it can change nothing; write its prompt in the file named.
  # reviewer:
  #   description: "Reads the change and reports what is wrong with it"
  #   prompt: docs/roles/reviewer.md
  #   tools: [read_file, list_files, search_files, git_diff, complete_task]
  #   provider: openai
  #   model: gpt-5-mini

# Session tree limits: how deep sessions may spawn children, how many run at
# once, and how long a command may run (seconds, at most 3600).
limits:
  max_depth: 2
  max_parallel: 4
  command_timeout_s: 120
`;

export const DEFAULT_POLICY_YAML = defaultPolicyYaml();
