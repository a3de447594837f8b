// A child never holds a tool outside its parent's envelope (DESIGN.md §2),
// and the roles' tool lists come from the policy or the defaults.
import { expect } from 'chai';
import { REGISTRY } from '../../../capabilities/index.js';
import { parsePolicy } from '../../../policy/load.js';
import { UsageError } from '../../../policy/errors.js';
import { SPAWN_TOOL, childGrant, roleTools, rootGrant } from '../../../runtime/broker/grants.js';

const DEFAULTS = parsePolicy('roles:\n  impl: { allow: [{ pattern: "src/**" }] }\n', 'test.yaml');

describe('grants', () => {
  const implTools = roleTools(DEFAULTS, 'impl', REGISTRY);
  const controlTools = roleTools(DEFAULTS, 'control', REGISTRY);

  it('default tools follow DESIGN.md §3: impl edits, control spawns and reviews', () => {
    expect(implTools).to.include.members(['read_file', 'write_file', 'edit_file', 'delete_file', 'move_file', 'complete_task']);
    expect(implTools).to.not.include.members([SPAWN_TOOL, 'task_approve', 'task_start', 'task_rework']);
    expect(controlTools).to.include.members([SPAWN_TOOL, 'task_approve', 'read_file']);
    expect(controlTools).to.not.include.members(['write_file', 'edit_file', 'delete_file', 'move_file']);
  });

  it('roles.<role>.tools replaces the defaults; an unknown tool name is a usage error', () => {
    const listed = parsePolicy('roles:\n  impl: { allow: [{ pattern: "src/**" }], tools: [read_file, complete_task] }\n', 'p.yaml');
    expect(roleTools(listed, 'impl', REGISTRY)).to.deep.equal(['read_file', 'complete_task']);
    const bad = parsePolicy('roles:\n  impl: { allow: [{ pattern: "src/**" }], tools: [read_file, rm_rf] }\n', 'p.yaml');
    expect(() => roleTools(bad, 'impl', REGISTRY)).to.throw(UsageError, /unknown tool\(s\): rm_rf/);
  });

  it('a root that may spawn can delegate impl\'s tools; one that may not delegates only its own', () => {
    const control = rootGrant(controlTools, implTools);
    expect(control.tools).to.deep.equal(controlTools);
    expect([...control.envelope]).to.include.members([...controlTools, ...implTools]);
    const impl = rootGrant(implTools, implTools);
    expect([...impl.envelope].sort()).to.deep.equal([...implTools].sort());
  });

  it('a child gets the intersection of its role\'s tools and a parent envelope smaller than them', () => {
    const envelope = new Set(['read_file', 'list_files', 'complete_task', SPAWN_TOOL, 'task_approve']);
    const child = childGrant(implTools, envelope);
    expect(child.tools.sort()).to.deep.equal(['complete_task', 'list_files', 'read_file']);
    for (const t of child.tools) expect(envelope.has(t)).to.equal(true);
    // The envelope it hands on is its own tools: a grandchild cannot regain anything.
    expect([...child.envelope].sort()).to.deep.equal(child.tools);
    const grandchild = childGrant([...implTools, SPAWN_TOOL, 'task_approve'], child.envelope);
    expect(grandchild.tools.sort()).to.deep.equal(['complete_task', 'list_files', 'read_file']);
  });

  it('a child never holds a tool its role lacks, even if the parent envelope has it', () => {
    const envelope = new Set([...controlTools, ...implTools]);
    const child = childGrant(implTools, envelope);
    expect(child.tools).to.deep.equal(implTools);
    expect(child.tools).to.not.include('task_approve');
    expect(childGrant(implTools, new Set()).tools).to.deep.equal([]);
  });
});
