// The governance file `choragen init` writes. It must load with our own
// loader and lint without warnings (spec/policy/load.spec.ts checks both).

export const DEFAULT_POLICY_YAML = `# choragen.governance.yaml: what agent sessions may read and change.
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

  # Allowed only after a human says yes (shown the diff; --auto-approve says yes).
  approve:
    - pattern: "package.json"
      actions: [modify]
      reason: "review dependency changes"
    - pattern: "**/{.github/workflows/**,.gitlab-ci.yml,.circleci/**}"
      reason: "CI runs it with the repository's secrets on the next push"
    - pattern: "**/{.gitattributes,.gitmodules}"
      reason: "names filter and diff drivers that run commands, or repositories git fetches"
    - pattern: "**/{.vscode/tasks.json,.vscode/settings.json,.devcontainer/**}"
      reason: "the editor runs these when the folder is opened"

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

# What each role may change. A role missing here may change nothing.
# "tools" narrows the tools a role is offered; left out, the defaults apply.
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
    # tools: [read_file, list_files, search_files, write_file, edit_file, delete_file,
    #         move_file, git_status, git_diff, chain_status, task_list, complete_task]

  control:
    allow:
      # Plans, designs and the task board (docs/tasks/**).
      - pattern: "docs/**"
    # tools: [read_file, list_files, search_files, git_status, git_diff, spawn_impl_session,
    #         chain_status, task_list, task_start, task_approve, task_rework, complete_task]

# Session tree limits: how deep sessions may spawn children, and how many run at once.
limits:
  max_depth: 2
  max_parallel: 4
`;
