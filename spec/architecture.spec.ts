// The import rules of DESIGN.md §7, read from the source tree so they stay
// true: authority flows runtime -> capabilities -> policy, workers see only the
// protocol, and no source file takes part in an import cycle (type-only
// imports included).
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { packageRoot } from '../runtime/paths.js';

const SOURCE_DIRS = ['policy', 'capabilities', 'runtime', 'workers'] as const;
type Layer = (typeof SOURCE_DIRS)[number];

/** What a worker may never load, even indirectly: authority lives in the broker. */
const WORKER_FORBIDDEN = [
  'fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'http2', 'dgram', 'tls', 'dns', 'dns/promises', 'inspector',
  '@duckdb/node-api', '@anthropic-ai/sdk', 'openai', 'isomorphic-git', 'piscina',
];

interface SourceFile { rel: string; layer: Layer; imports: string[] }

function sourceFiles(): SourceFile[] {
  const out: SourceFile[] = [];
  const visit = (rel: string, layer: Layer) => {
    for (const entry of fs.readdirSync(path.join(packageRoot, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) visit(child, layer);
      else if (/\.c?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        out.push({ rel: child, layer, imports: importsOf(fs.readFileSync(path.join(packageRoot, child), 'utf8')) });
      }
    }
  };
  for (const dir of SOURCE_DIRS) visit(dir, dir);
  return out;
}

/** Every module specifier: static imports and re-exports (type-only too) and dynamic import(). */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  const patterns = [/\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s+['"]([^'"]+)['"]/gm];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(m[1]!);
  return specs;
}

/** A relative specifier as a source path (`../policy/types.js` -> `policy/types.ts`). */
function resolveLocal(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  return joined.replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts');
}

const bare = (spec: string) => spec.replace(/^node:/, '');

describe('architecture (DESIGN.md §7)', () => {
  const files = sourceFiles();
  const byRel = new Map(files.map((f) => [f.rel, f]));

  it('finds the source tree', () => {
    expect(files.length).to.be.greaterThan(50);
  });

  it('policy/ imports nothing of capabilities/, runtime/ or workers/', () => {
    const bad = files.filter((f) => f.layer === 'policy').flatMap((f) =>
      f.imports.map((s) => resolveLocal(f.rel, s)).filter((t) => t && !t.startsWith('policy/')).map((t) => `${f.rel} -> ${t}`));
    expect(bad).to.deep.equal([]);
  });

  it('capabilities/ imports nothing of runtime/ or workers/', () => {
    const bad = files.filter((f) => f.layer === 'capabilities').flatMap((f) =>
      f.imports.map((s) => resolveLocal(f.rel, s)).filter((t) => t && /^(runtime|workers)\//.test(t)).map((t) => `${f.rel} -> ${t}`));
    expect(bad).to.deep.equal([]);
  });

  it('workers/ import only the protocol of capabilities/, and nothing that holds authority', () => {
    const bad: string[] = [];
    for (const f of files.filter((x) => x.layer === 'workers')) {
      for (const spec of f.imports) {
        const local = resolveLocal(f.rel, spec);
        if (local) {
          if (!local.startsWith('workers/') && local !== 'capabilities/protocol.ts') bad.push(`${f.rel} -> ${local}`);
        } else if (WORKER_FORBIDDEN.includes(bare(spec)) || WORKER_FORBIDDEN.some((p) => bare(spec).startsWith(`${p}/`))) {
          bad.push(`${f.rel} -> ${spec}`);
        }
      }
    }
    expect(bad).to.deep.equal([]);
  });

  it('imports of the protocol from workers are type-only', () => {
    const bad = files.filter((f) => f.layer === 'workers').flatMap((f) => {
      const text = fs.readFileSync(path.join(packageRoot, f.rel), 'utf8');
      return [...text.matchAll(/^import\s+(?!type\b)[^;]*from\s*['"][^'"]*capabilities\/protocol\.js['"]/gm)].map(() => f.rel);
    });
    expect(bad).to.deep.equal([]);
  });

  // DESIGN.md §1, "One authority path": every byte of the workspace goes through capabilities/fs/authority.ts.
  it('capabilities/ reach the filesystem only through fs/authority.ts (and git/ its own directory)', () => {
    const allowed = new Set(['capabilities/fs/authority.ts', 'capabilities/git/repo.ts', 'capabilities/git/worktree-fs.ts',
      // The sandbox's side of the OS boundary, outside the workspace: host facts (bwrap, hidden host paths,
      // inherited descriptors, programs on the system PATH, the plan's mount points, /proc, sysctls) and the
      // scratch and probe directories under the OS temp dir, the command's cgroup under /sys/fs/cgroup. They never
      // read or write a workspace file's content; run_command's plan, snapshots and after-run check reach the
      // workspace through the authority.
      // And the probe's good verdicts, remembered in the user's cache directory.
      'capabilities/sandbox/host.ts', 'capabilities/sandbox/scratch.ts', 'capabilities/sandbox/cgroup.ts', 'capabilities/sandbox/verdict-cache.ts']);
    const bad = files.filter((f) => f.layer === 'capabilities' && !allowed.has(f.rel)).flatMap((f) => {
      const text = fs.readFileSync(path.join(packageRoot, f.rel), 'utf8');
      const valueImports = [
        ...text.matchAll(/^\s*import\s+(?!type\b)([^;]*?)\s+from\s*['"](?:node:)?fs(?:\/promises)?['"]/gm),
      ].filter((m) => !/^\{[^}]*\}$/.test(m[1]!.trim()) || m[1]!.replace(/[{}\s]/g, '').split(',').some((n) => n && !n.startsWith('type')));
      const dynamic = [...text.matchAll(/\bimport\s*\(\s*['"](?:node:)?fs(?:\/promises)?['"]\s*\)/g)];
      return [...valueImports, ...dynamic].map(() => f.rel);
    });
    expect(bad).to.deep.equal([]);
  });

  it('only policy/canonical makes checked paths, and only these modules ask it for one', () => {
    const callers = new Set([
      'policy/canonical.ts', 'runtime/broker/tool-context.ts', 'runtime/cli/policy-check.ts',
      'capabilities/tasks/store.ts', 'runtime/sessions/commits.ts',
      // a role's prompt file is read like read_file reads: canonicalized, asked of the policy, opened by the authority
      'runtime/broker/role-prompts.ts',
    ]);
    const bad = files.filter((f) => !callers.has(f.rel)).flatMap((f) => {
      const text = fs.readFileSync(path.join(packageRoot, f.rel), 'utf8');
      return /\b(canonicalize|workspaceRoot)\s*\(/.test(text) ? [f.rel] : [];
    });
    expect(bad).to.deep.equal([]);
  });

  it('runtime/ keeps at most a dozen files at its top', () => {
    const top = fs.readdirSync(path.join(packageRoot, 'runtime'), { withFileTypes: true }).filter((e) => e.isFile());
    expect(top.map((e) => e.name)).to.have.length.at.most(12);
  });

  it('no import cycle between source files (type-only imports included)', () => {
    const edges = new Map(files.map((f) => [f.rel, f.imports.map((s) => resolveLocal(f.rel, s)).filter((t): t is string => !!t && byRel.has(t))]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (node: string) => {
      state.set(node, 'open');
      stack.push(node);
      for (const next of edges.get(node) ?? []) {
        if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(node, 'done');
    };
    for (const f of files) if (!state.has(f.rel)) visit(f.rel);
    expect(cycles).to.deep.equal([]);
  });

  it('reads imports the way TypeScript writes them', () => {
    const text = [
      "import type { A } from './a.js';",
      "import { B,\n  C } from '../b.js';",
      "export * from './c.js';",
      "const d = await import('./d.js');",
      "import './e.js';",
      "// import { x } from './commented.js';",
    ].join('\n');
    expect(importsOf(text)).to.have.members(['./a.js', '../b.js', './c.js', './d.js', './e.js']);
  });
});
