// Real git repositories for specs: made with isomorphic-git, cross-checked
// with the git binary (specs only; the code under test never needs it).
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import git from 'isomorphic-git';
import { makeWorkspace } from './cli.js';

const author = { name: 'Spec', email: 'spec@localhost', timestamp: 1_700_000_000, timezoneOffset: 0 };

/** A repository with one commit of `files`. */
export async function committedRepo(files: Record<string, string>): Promise<string> {
  const dir = makeWorkspace(files);
  await git.init({ fs, dir, defaultBranch: 'main' });
  for (const rel of Object.keys(files)) await git.add({ fs, dir, filepath: rel });
  await git.commit({ fs, dir, message: 'initial', author });
  return dir;
}

/** The real git binary, isolated from the machine's configuration. */
export function realGit(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir, GIT_OPTIONAL_LOCKS: '0' },
  });
}
