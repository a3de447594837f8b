// The `commands` rules (DESIGN.md §4): matching, decision order, rule ids,
// validation with file:line:key, lint, and the commands `init` suggests.
import { expect } from 'chai';
import { lintPolicy } from '../../policy/lint.js';
import { parsePolicy } from '../../policy/load.js';
import { defaultPolicyYaml, suggestCommands } from '../../policy/default-policy.js';
import { writableBases } from '../../policy/command-areas.js';
import { PolicyError } from '../../policy/errors.js';

const FILE = 'choragen.governance.yaml';

const POLICY = `
commands:
  deny:
    - { argv: ["npm", "publish"], reason: "a human publishes" }
    - { argv: ["npm", "run", "deploy*"] }
  approve:
    - { argv: ["npm", "install"], reason: "dependencies change" }
  allow:
    - { argv: ["make"] }
roles:
  impl:
    allow: [{ pattern: "src/**" }]
    commands:
      deny:
        - { argv: ["node", "--test", "**/slow/**"] }
      allow:
        - { argv: ["npm", "test"], reason: "the tests" }
        - { argv: ["npm", "run", "lint"], exact: true }
        - { argv: ["node", "--test"] }
        - { argv: ["npx", "tsc", "--noEmit"] }
  control:
    allow: [{ pattern: "docs/**" }]
`;

function loadError(text: string): PolicyError {
  try {
    parsePolicy(text, FILE);
  } catch (err) {
    return err as PolicyError;
  }
  throw new Error('expected the policy to be refused');
}

describe('policy: commands rules', () => {
  const p = parsePolicy(POLICY, FILE);
  const decide = (argv: string[], role: 'impl' | 'control' = 'impl') => {
    const d = p.decideCommand(role, argv);
    return `${d.decision} ${d.rule}`;
  };

  it('matches an argv prefix element by element', () => {
    expect(decide(['npm', 'test'])).to.equal('allow roles.impl.commands.allow[0]');
    expect(decide(['npm', 'test', '--', '--grep', 'x'])).to.equal('allow roles.impl.commands.allow[0]');
    expect(decide(['npm'])).to.equal('deny default');
    expect(decide(['npm', 'tests'])).to.equal('deny default');
    expect(decide(['npx', 'tsc'])).to.equal('deny default');
    expect(decide(['npx', 'tsc', '--noEmit', '-p', 'tsconfig.json'])).to.equal('allow roles.impl.commands.allow[3]');
  });

  it('exact: true requires the same length', () => {
    expect(decide(['npm', 'run', 'lint'])).to.equal('allow roles.impl.commands.allow[1]');
    expect(decide(['npm', 'run', 'lint', '--', '--fix'])).to.equal('deny default');
  });

  it('matches globs like paths: * within a segment, ** across', () => {
    expect(decide(['npm', 'run', 'deploy-prod'])).to.equal('deny commands.deny[1]');
    expect(decide(['node', '--test', 'test/slow/a.test.js'])).to.equal('deny roles.impl.commands.deny[0]');
    expect(decide(['node', '--test', 'test/fast/a.test.js'])).to.equal('allow roles.impl.commands.allow[2]');
  });

  it('decides in order: any deny (global or the role\'s), then approve, then the role\'s allow, then default deny', () => {
    expect(decide(['npm', 'publish'])).to.equal('deny commands.deny[0]');
    expect(p.decideCommand('impl', ['npm', 'publish']).reason).to.equal('a human publishes');
    expect(decide(['npm', 'install', 'left-pad'])).to.equal('approve commands.approve[0]');
    // The role has its own commands: the global allow does not reach it.
    expect(decide(['make'])).to.equal('deny default');
    // control has no commands section: the global allow applies.
    expect(decide(['make', 'all'], 'control')).to.equal('allow commands.allow[0]');
    expect(decide(['npm', 'test'], 'control')).to.equal('deny default');
  });

  it('says why a command is denied by default, quoting it on one line', () => {
    expect(p.decideCommand('impl', ['rm', '-rf', 'a b']).reason).to.equal("no commands allow rule for impl matches rm -rf 'a b'");
    expect(p.decideCommand('impl', ['npm', 'run', 'deploy']).reason).to.equal('commands matching npm run \'deploy*\' … may not be run');
  });

  it('offers commands only to a role with an allow or approve rule in force', () => {
    expect(p.allowsCommands('impl')).to.equal(true);
    expect(p.allowsCommands('control')).to.equal(true);
    const none = parsePolicy('roles:\n  impl:\n    allow: [{ pattern: "src/**" }]\n', FILE);
    expect(none.allowsCommands('impl')).to.equal(false);
    const denyOnly = parsePolicy('commands:\n  deny: [{ argv: ["npm"] }]\n', FILE);
    expect(denyOnly.allowsCommands('impl')).to.equal(false);
  });

  it('lists the rules in force for the manifest, with ids and where allow comes from', () => {
    const rules = p.rulesFor('impl').commands as Record<string, unknown>;
    expect(rules.allow_from).to.equal('roles.impl.commands');
    expect((rules.deny as unknown[]).length).to.equal(3);
    expect((rules.allow as unknown[])[1]).to.deep.equal({ rule: 'roles.impl.commands.allow[1]', argv: ['npm', 'run', 'lint'], exact: true });
    expect((p.rulesFor('control').commands as Record<string, unknown>).allow_from).to.equal('commands');
  });

  it('changes the policy hash when a command rule changes', () => {
    expect(parsePolicy(POLICY.replace('"make"', '"gmake"'), FILE).hash).to.not.equal(p.hash);
  });

  describe('validation', () => {
    it('names file, line and key for a bad rule', () => {
      expect(loadError('commands:\n  allow:\n    - { argv: [] }\n').message).to.equal(`${FILE}:3: commands.allow[0].argv: must list at least one item`);
      expect(loadError('commands:\n  allow:\n    - { argv: "npm test" }\n').message).to.equal(`${FILE}:3: commands.allow[0].argv: expected a list, got string "npm test"`);
      expect(loadError('commands:\n  allow:\n    - { argv: ["npm"], shell: true }\n').message).to.match(
        /^choragen\.governance\.yaml:3: commands\.allow\[0\]\.shell: unknown key "shell" \(expected argv, exact, reason\)$/,
      );
      expect(loadError('commands:\n  permit:\n    - { argv: ["npm"] }\n').message).to.match(/^choragen\.governance\.yaml:2: commands\.permit: unknown key "permit"/);
      expect(loadError('roles:\n  impl:\n    commands:\n      allow:\n        - { argv: ["npm", 7] }\n').message).to.equal(
        `${FILE}:5: roles.impl.commands.allow[0].argv[1]: expected a string, got number 7`,
      );
      expect(loadError('limits: { command_timeout_s: 99999 }\n').message).to.match(/^choragen\.governance\.yaml:1: limits\.command_timeout_s: 99999 is out of range/);
    });

    it('refuses a glob that can never match, naming its line', () => {
      const err = loadError('roles:\n  impl:\n    commands:\n      allow:\n        - argv: ["node", "--test"]\n        - argv: ["npm", "[z-a]"]\n');
      expect(err.message).to.equal(`${FILE}:6: roles.impl.commands.allow[1].argv[1]: invalid glob "[z-a]"`);
    });
  });

  describe('writable bases (where commands may write)', () => {
    it('are the static bases of the role\'s allow globs, the workspace for a glob without one', () => {
      expect(writableBases(p, 'impl')).to.deep.equal(['src']);
      const q = parsePolicy('roles:\n  impl:\n    allow:\n      - pattern: "src/**/*.ts"\n      - pattern: "src/gen/**"\n      - pattern: "./test/**"\n      - pattern: "package-lock.json"\n', FILE);
      expect(writableBases(q, 'impl')).to.deep.equal(['package-lock.json', 'src', 'test']);
      const r = parsePolicy('roles:\n  impl:\n    allow:\n      - pattern: "src/**"\n      - pattern: "**/*.test.js"\n', FILE);
      expect(writableBases(r, 'impl')).to.deep.equal(['.']);
      const s = parsePolicy('roles:\n  impl:\n    allow:\n      - pattern: "{src,lib}/**"\n', FILE);
      expect(writableBases(s, 'impl')).to.deep.equal(['.']);
    });

    it('open nothing for approve rules, or for a role without rules', () => {
      const q = parsePolicy('mutations:\n  approve: [{ pattern: "src/**" }]\nroles:\n  impl:\n    allow: [{ pattern: "docs/**" }]\n', FILE);
      expect(writableBases(q, 'impl')).to.deep.equal(['docs']);
      expect(writableBases(q, 'control')).to.deep.equal([]);
    });
  });

  describe('lint', () => {
    const warnings = (text: string) => lintPolicy(parsePolicy(text, FILE)).map((w) => `${w.rule}: ${w.message}`);

    it('warns about an allow that a deny shadows, and an allow behind an approve', () => {
      const w = warnings('commands:\n  deny: [{ argv: ["npm", "run"] }]\n  approve: [{ argv: ["node"] }]\n  allow:\n    - { argv: ["npm", "run", "lint"] }\n    - { argv: ["node", "--test"] }\n');
      expect(w).to.include('commands.allow[0]: can never apply: every command it matches is denied by commands.deny[0]');
      expect(w.some((x) => x.startsWith('commands.allow[1]: never allows without a human: commands.approve[0]'))).to.equal(true);
      // A global rule that one role's own deny shadows still serves the others: the warning names that role.
      const own = warnings('commands:\n  allow: [{ argv: ["npm", "test"] }]\nroles:\n  impl:\n    allow: [{ pattern: "src/**" }]\n    tools: [read_file, run_command]\n    commands:\n      deny: [{ argv: ["npm"] }]\n  tester:\n    tools: [read_file, run_command]\n');
      expect(own).to.not.include('commands.allow[0]: can never apply: every command it matches is denied by roles.impl.commands.deny[0]');
    });

    it('warns about global allow rules that no role uses: each role offered run_command has its own commands section', () => {
      const text = (impl: string) => `commands:\n  deny: [{ argv: ["npm"] }]\n  allow:\n    - { argv: ["npm", "test"] }\n    - { argv: ["node", "--test"] }\nroles:\n  impl:\n    allow: [{ pattern: "src/**" }]\n${impl}`;
      const w = warnings(text('    commands:\n      allow: [{ argv: ["make", "test"] }]\n'));
      for (const rule of ['commands.allow[0]', 'commands.allow[1]']) {
        expect(w).to.include(`${rule}: never applies: every role offered run_command (impl) has its own roles.<role>.commands, whose allow rules replace commands.allow`);
      }
      // An own section with only deny rules replaces them too.
      expect(warnings(text('    commands:\n      deny: [{ argv: ["make"] }]\n')).join('\n')).to.include('commands.allow[1]: never applies: every role offered run_command (impl)');
      // Without an own section impl uses them: only the shadowed one is reported.
      const used = warnings(text(''));
      expect(used.filter((x) => x.startsWith('commands.allow'))).to.deep.equal(['commands.allow[0]: can never apply: every command it matches is denied by commands.deny[0]']);
    });

    it('warns about rules the built-in guard always refuses: shells, wrappers, inline code', () => {
      const w = warnings(
        'roles:\n  impl:\n    commands:\n      allow:\n        - argv: ["bash"]\n        - argv: ["env", "node"]\n        - argv: ["node", "-e"]\n        - argv: ["*"]\n        - argv: ["npm", ""]\n',
      );
      expect(w.find((x) => x.startsWith('roles.impl.commands.allow[0]'))).to.match(/can never apply: run_command always refuses it \(builtin\.shell/);
      expect(w.find((x) => x.startsWith('roles.impl.commands.allow[1]'))).to.match(/builtin\.wrapper/);
      expect(w.find((x) => x.startsWith('roles.impl.commands.allow[2]'))).to.match(/builtin\.inline-code/);
      expect(w.find((x) => x.startsWith('roles.impl.commands.allow[3]'))).to.match(/matches any program/);
      expect(w.find((x) => x.startsWith('roles.impl.commands.allow[4]'))).to.match(/argv\[1\] is empty/);
    });

    it('warns about commands for a role that is never offered run_command', () => {
      expect(warnings('roles:\n  impl:\n    allow: [{ pattern: "src/**" }]\n    tools: [read_file, complete_task]\n    commands:\n      allow: [{ argv: ["npm", "test"] }]\n'))
        .to.include('roles.impl.commands: never applies: roles.impl.tools does not list run_command, so impl is never offered it');
      expect(warnings('roles:\n  control:\n    allow: [{ pattern: "docs/**" }]\n    commands:\n      allow: [{ argv: ["npm", "test"] }]\n').join('\n'))
        .to.include('roles.control.commands: never applies: control is not offered run_command by default');
      // Its global allow (make) decides for control, which is not offered the tool, and for no one else.
      expect(warnings(POLICY)).to.deep.equal([
        'commands.allow[0]: never applies: every role offered run_command (impl) has its own roles.<role>.commands, whose allow rules replace commands.allow',
      ]);
    });
  });

  describe('init', () => {
    it('suggests the test, lint and type-check commands of a Node project, and nothing else', () => {
      const argv = (project: Parameters<typeof suggestCommands>[0], tsconfig = false) => suggestCommands(project, tsconfig).map((c) => c.argv.join(' '));
      expect(argv(null)).to.deep.equal([]);
      expect(argv({})).to.deep.equal(['node --test']);
      expect(argv({ scripts: { test: 'echo "Error: no test specified" && exit 1' } })).to.deep.equal(['node --test']);
      expect(argv({ scripts: { test: 'mocha', 'test:unit': 'mocha unit', lint: 'eslint .', build: 'tsc', start: 'node .', deploy: 'x', typecheck: 'tsc' } }))
        .to.deep.equal(['npm test', 'npm run test:unit', 'npm run lint', 'npm run typecheck']);
      expect(argv({ devDependencies: { typescript: '5' } })).to.deep.equal(['node --test', 'npx tsc --noEmit']);
      expect(argv({}, true)).to.deep.equal(['node --test', 'npx tsc --noEmit']);
    });

    it('writes a commands section that loads, lints clean and allows exactly those commands', () => {
      const text = defaultPolicyYaml(suggestCommands({ scripts: { test: 'mocha', lint: 'eslint .' } }, true));
      const q = parsePolicy(text, FILE);
      expect(lintPolicy(q)).to.deep.equal([]);
      expect(q.decideCommand('impl', ['npm', 'test']).decision).to.equal('allow');
      expect(q.decideCommand('impl', ['npm', 'run', 'lint']).decision).to.equal('allow');
      expect(q.decideCommand('impl', ['npx', 'tsc', '--noEmit']).decision).to.equal('allow');
      expect(q.decideCommand('impl', ['npm', 'run', 'build']).decision).to.equal('deny');
      expect(q.decideCommand('impl', ['npm', 'publish']).rule).to.equal('commands.deny[0]');
      expect(q.allowsCommands('control')).to.equal(false);
      // Without a project, nothing is allowed and the section is a comment.
      const bare = parsePolicy(defaultPolicyYaml([]), FILE);
      expect(bare.allowsCommands('impl')).to.equal(false);
      expect(lintPolicy(bare)).to.deep.equal([]);
    });
  });
});
