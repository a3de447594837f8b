// The esbuild bundle (scripts/bundle.mjs) is what users run: package.json's
// `bin` names it, `choragen --help` loads none of what `agent:start` needs,
// the session worker is one file that imports nothing, and bundled code finds
// its package and lets session workers read the bundle's folder only. (The
// end-to-end specs run the CLI through the bundle, sandboxed workers included.)
import { expect } from 'chai';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../runtime/paths.js';
import { CLI } from '../support/cli.js';

const bundleDir = path.join(packageRoot, 'dist', 'bundle');

/** The bundled files a module loads at start: its static imports of sibling chunks, transitively. */
function staticClosure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(path.join(bundleDir, file), 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\b[^;]*?(?:from\s*)?"\.\/([^"]+)";?$/gm)) visit(m[1]!);
  };
  visit(entry);
  return [...seen];
}

/**
 * The npm packages bundled into these files, read from esbuild's source
 * markers (`// node_modules/<pkg>/…`, relative to the build's folder, so a
 * linked node_modules shows as `// ../…/node_modules/<pkg>/…`).
 */
function packagesIn(files: string[]): Set<string> {
  const out = new Set<string>();
  for (const file of files) {
    const text = fs.readFileSync(path.join(bundleDir, file), 'utf8');
    for (const m of text.matchAll(/^\/\/ (?:\S*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) out.add(m[1]!);
  }
  return out;
}

describe('the bundle (scripts/bundle.mjs)', () => {
  it('is what package.json bin names, and runs as a script', () => {
    expect(CLI).to.equal(path.join(bundleDir, 'choragen.js'));
    expect(fs.readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).to.equal(true);
  });

  it('loads only clipanion and the command classes for --help, not what agent:start needs', () => {
    const closure = staticClosure('choragen.js');
    const packages = packagesIn(closure);
    expect(packages.has('clipanion')).to.equal(true);
    for (const heavy of ['@anthropic-ai/sdk', '@sinclair/typebox', 'yaml', 'isomorphic-git', 'picomatch']) {
      expect(packages.has(heavy), `${heavy} is loaded by --help`).to.equal(false);
    }
    const text = closure.map((f) => fs.readFileSync(path.join(bundleDir, f), 'utf8')).join('\n');
    expect(text).not.to.match(/^import\b[^;]*["'](piscina|@duckdb\/node-api)["']/m);
    // ...while agent:start's code is in the bundle, behind a dynamic import.
    const all = fs.readdirSync(bundleDir).filter((f) => f.endsWith('.js'));
    expect(packagesIn(all).has('@anthropic-ai/sdk')).to.equal(true);
  });

  it('has a session worker that imports nothing: a worker reads only its own file', () => {
    const text = fs.readFileSync(path.join(bundleDir, 'session-worker.js'), 'utf8');
    expect(text).not.to.match(/^\s*import\b|\bimport\(|\brequire\(/m);
    expect(fs.existsSync(path.join(bundleDir, 'pool-entry.cjs'))).to.equal(true);
  });

  describe('bundled code', function () {
    this.timeout(20_000);
    // A probe bundled with the same options, in a package of its own under dist/
    // (so node_modules still resolves): <pkg>/dist/bundle/probe.js.
    let pkg: string;
    let probe: {
      codeRoot: string; packageRoot: string; workerFiles: { poolEntry: string; sessionWorker: string };
      workerReadablePaths(): string[]; workerExecArgv(kind: string): string[];
    };

    before(async () => {
      pkg = fs.mkdtempSync(path.join(packageRoot, 'dist', 'spec', 'bundle-probe-'));
      const source = path.join(pkg, 'probe.ts');
      fs.writeFileSync(source, [
        `export { codeRoot, packageRoot, workerFiles } from ${JSON.stringify(path.join(packageRoot, 'runtime', 'paths.ts'))};`,
        `export { workerReadablePaths, workerExecArgv } from ${JSON.stringify(path.join(packageRoot, 'runtime', 'broker', 'worker-sandbox.ts'))};`,
      ].join('\n'));
      const { bundleOptions } = await import(pathToFileURL(path.join(packageRoot, 'scripts', 'bundle.mjs')).href);
      const { build } = await import('esbuild');
      await build({ ...bundleOptions, entryPoints: [source], outfile: path.join(pkg, 'dist', 'bundle', 'probe.js'), format: 'esm', logLevel: 'silent' });
      probe = await import(pathToFileURL(path.join(pkg, 'dist', 'bundle', 'probe.js')).href);
    });

    after(() => fs.rmSync(pkg, { recursive: true, force: true }));

    it('finds the package root and the worker files from the bundle folder', () => {
      expect(path.resolve(probe.codeRoot)).to.equal(path.join(pkg, 'dist', 'bundle'));
      expect(path.resolve(probe.packageRoot)).to.equal(pkg);
      expect(probe.workerFiles).to.deep.equal({
        poolEntry: path.join(pkg, 'dist', 'bundle', 'pool-entry.cjs'),
        sessionWorker: path.join(pkg, 'dist', 'bundle', 'session-worker.js'),
      });
    });

    it('lets session workers read the bundle folder and piscina, nothing else', () => {
      const piscina = path.dirname(createRequire(import.meta.url).resolve('piscina'));
      expect(probe.workerReadablePaths().map((p) => path.resolve(p))).to.deep.equal([path.join(pkg, 'dist', 'bundle'), piscina]);
      const reads = probe.workerExecArgv('permission').filter((a) => a.startsWith('--allow-'));
      expect(reads).to.deep.equal([`--allow-fs-read=${path.join(pkg, 'dist', 'bundle', '*')}`, `--allow-fs-read=${path.join(piscina, '*')}`]);
    });
  });
});
