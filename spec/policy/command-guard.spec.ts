// The built-in refusals of run_command: each class has a case that fails if
// its check is removed, and commands a developer runs every day pass.
import { expect } from 'chai';
import { guardCommand, programFamily } from '../../policy/command-guard.js';
import { quoteArg, quoteCommand, splitCommandLine } from '../../policy/command-line.js';

const rule = (argv: string[], facts = {}) => guardCommand(argv, facts)?.rule ?? 'pass';

describe('policy: the built-in command guard', () => {
  it('lets ordinary test, lint and build commands through to the policy', () => {
    for (const argv of [
      ['npm', 'test'],
      ['npm', 'test', '--', '--grep', 'x'],
      ['npm', 'run', 'lint'],
      ['npx', 'tsc', '--noEmit'],
      ['npx', 'jest', '-c', 'jest.config.js'],
      ['npx', 'mocha', '-p'],
      ['node', '--test'],
      ['node', '--test', 'test/'],
      ['node', 'scripts/check.js', '--flag'],
      ['node', '--require', './test/setup.js', '--test'],
      ['python3', '-m', 'pytest', '-c', 'pytest.ini'],
      ['python3', 'manage.py', 'test'],
      ['perl', '-MTest::More', 't/a.t'],
      ['ruby', '-Ilib', 'test/a.rb'],
      ['make', 'test'],
      ['git', 'status'],
      ['find', '.', '-name', '*.ts'],
      ['busybox', 'ls'],
      ['./node_modules/.bin/mocha'],
    ]) {
      expect(rule(argv), argv.join(' ')).to.equal('pass');
    }
  });

  it('refuses shells, by name, by path, behind a version or a package runner', () => {
    for (const argv of [['sh', '-c', 'id'], ['bash'], ['/bin/sh', '-c', 'id'], ['/usr/bin/zsh'], ['dash'], ['fish', '-c', 'x'], ['ksh93'], ['busybox', 'sh'], ['npx', 'bash'], ['npm', 'exec', '--', 'sh', '-c', 'id'], ['pwsh']]) {
      expect(rule(argv), argv.join(' ')).to.equal('builtin.shell');
    }
  });

  it('refuses a program that is a shell under another name (resolved on disk)', () => {
    expect(rule(['tsc'], { realPath: '/usr/bin/dash' })).to.equal('builtin.shell');
    expect(rule(['python3', '-c', 'x'], { realPath: '/usr/bin/python3.11' })).to.equal('builtin.inline-code');
    expect(rule(['tsc'], { realPath: '/ws/node_modules/typescript/bin/tsc' })).to.equal('pass');
  });

  it('refuses wrappers that run another command from their arguments', () => {
    for (const argv of [['env', 'node', '--test'], ['/usr/bin/env'], ['xargs', 'rm'], ['nohup', 'node', 'x.js'], ['timeout', '5', 'node'], ['nice', 'node'], ['setsid', 'node'], ['sudo', 'npm', 'test'], ['strace', 'node'], ['cross-env', 'A=1', 'node'], ['dotenv', '--', 'node'], ['find', '.', '-exec', 'sh', ';'], ['npx', 'env', 'node']]) {
      expect(rule(argv), argv.join(' ')).to.equal('builtin.wrapper');
    }
  });

  it('refuses interpreters given code inline', () => {
    for (const argv of [
      ['node', '-e', 'x'],
      ['node', '--eval', 'x'],
      ['node', '--eval=x'],
      ['node', '-p', '1'],
      ['node', '-pe', '1'],
      ['node', '--print', '1'],
      ['node', '--test', '-e', 'x'],
      ['node', '--import=data:text/javascript,process.exit(3)'],
      ['node', '--import', 'data:text/javascript,1', '--test'],
      ['node', '-r', 'data:text/javascript,1'],
      ['node', '--experimental-loader', 'https://example.com/x.mjs'],
      ['nodejs', '-e', 'x'],
      ['deno', 'eval', 'x'],
      ['bun', '-e', 'x'],
      ['tsx', '-e', 'x'],
      ['python', '-c', 'x'],
      ['python3', '-Bc', 'x'],
      ['python3.12', '-c', 'x'],
      ['perl', '-e', 'x'],
      ['perl', '-lne', 'x'],
      ['ruby', '-e', 'x'],
      ['php', '-r', 'x'],
      ['lua', '-e', 'x'],
      ['Rscript', '-e', 'x'],
      ['awk', 'BEGIN { system("id") }'],
      ['npx', '-c', 'id'],
      ['npx', '--call=id'],
      ['npm', 'exec', '-c', 'id'],
      ['npm', 'x', '--call', 'id'],
      ['npm', 'test', '--node-options=--require=./x.js'],
      ['npm', 'test', '--script-shell=/bin/bash'],
      ['npx', 'node', '-e', 'x'],
      ['busybox', 'awk', 'x'],
      ['git', '-c', 'alias.t=!sh -c id', 't'],
      ['git', '--config-env=core.pager=X', 'log'],
      ['make', '--eval=all:;@id'],
      ['make', '-E', 'all:;@id'],
    ]) {
      expect(rule(argv), argv.join(' ')).to.equal('builtin.inline-code');
    }
  });

  it('refuses program paths that play tricks, and empty or NUL arguments', () => {
    expect(rule(['./node_modules/.bin/../../sh'])).to.equal('builtin.program-path');
    expect(rule(['src/../../bin/node'])).to.equal('builtin.program-path');
    expect(rule(['/tmp/evil'], { outsideAllowedDirs: true })).to.equal('builtin.program-path');
    expect(rule(['./tool'], { outsideAllowedDirs: true })).to.equal('builtin.program-path');
    // A bare name found in node_modules/.bin through a link that leads out of the workspace.
    expect(rule(['tsc'], { outsideAllowedDirs: true })).to.equal('builtin.program-path');
    expect(rule(['/usr/bin/node', '--test'], { outsideAllowedDirs: false })).to.equal('pass');
    expect(rule([''])).to.equal('builtin.argv');
    expect(rule([])).to.equal('builtin.argv');
    expect(rule(['node', 'a\0b'])).to.equal('builtin.argv');
  });

  it('names program families', () => {
    expect(programFamily('/usr/bin/python3.11')).to.equal('python');
    expect(programFamily('ksh93')).to.equal('ksh');
    expect(programFamily('Bash')).to.equal('bash');
    expect(programFamily('node')).to.equal('node');
    expect(programFamily('npx-cli.js')).to.equal('npx-cli.js');
  });
});

describe('policy: command lines', () => {
  it('quotes an argv so a shell reads it back, one line, with control characters as escapes', () => {
    expect(quoteCommand(['npm', 'test'])).to.equal('npm test');
    expect(quoteCommand(['node', '--test', 'a b', "it's", ''])).to.equal("node --test 'a b' 'it'\\''s' ''");
    expect(quoteArg('a\nb')).to.equal("$'a\\nb'");
    expect(quoteArg('\x1b[2Jx')).to.equal("$'\\E[2Jx'");
    expect(quoteArg('a\u202eb')).to.equal("$'a\\u202eb'");
    expect(quoteArg("x'\\\r")).to.equal("$'x\\'\\\\\\r'");
    expect(quoteCommand(['x'.repeat(50), 'y'.repeat(50)], 60)).to.match(/^x{50} y{9}… \(\+41 chars\)$/);
  });

  it('splits a typed command line like a shell would, without expanding anything', () => {
    expect(splitCommandLine('npm test')).to.deep.equal(['npm', 'test']);
    expect(splitCommandLine(`  node --test 'a b' "c \\"d\\"" e\\ f $HOME *  `)).to.deep.equal(['node', '--test', 'a b', 'c "d"', 'e f', '$HOME', '*']);
    expect(splitCommandLine("''")).to.deep.equal(['']);
    expect(splitCommandLine("npm 'x")).to.equal(null);
    expect(splitCommandLine('npm "x')).to.equal(null);
    const argv = ['a b', "c'd", 'e\nf', ''];
    expect(splitCommandLine(argv.map(quoteArg).filter((q) => !q.startsWith('$')).join(' '))).to.deep.equal(['a b', "c'd", '']);
  });
});
