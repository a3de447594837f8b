// A child never holds a tool outside its parent's envelope (DESIGN.md §2),
// the roles' tool lists come from the policy or the defaults, and the spawn
// tools follow `spawns`.
import { expect } from 'chai';
import { REGISTRY } from '../../../capabilities/index.js';
import { parsePolicy } from '../../../policy/load.js';
import { UsageError } from '../../../policy/errors.js';
import {
  READ_ONLY_DEFAULTS, SPAWN_SESSION_TOOL, SPAWN_TOOL, childGrant, roleEnvelope, roleTools, rootGrant, toolOffer, within,
} from '../../../runtime/broker/grants.js';
import { TOOL_ACTIONS } from '../../../runtime/manifest.js';

const DEFAULTS = parsePolicy('roles:\n  impl: { allow: [{ pattern: "src/**" }] }\n', 'test.yaml');

const TEAM = parsePolicy(`
roles:
  control: { allow: [{ pattern: "docs/**" }], spawns: [impl, reviewer], tools: [read_file, spawn_impl_session, complete_task] }
  impl: { allow: [{ pattern: "src/**" }], tools: [read_file, write_file, complete_task] }
  reviewer:
    description: Reads the change and reports
    tools: [read_file, git_diff, complete_task]
    spawns: [checker]
  checker: { tools: [read_file, search_files, complete_task] }
`, 'team.yaml');

describe('grants', () => {
  const implTools = roleTools(DEFAULTS, 'impl', REGISTRY);
  const controlTools = roleTools(DEFAULTS, 'control', REGISTRY);

  it('default tools follow DESIGN.md §3: impl edits, control spawns impl and reviews', () => {
    expect(implTools).to.include.members(['read_file', 'write_file', 'edit_file', 'delete_file', 'move_file', 'complete_task']);
    expect(implTools).to.not.include.members([SPAWN_TOOL, SPAWN_SESSION_TOOL, 'task_approve', 'task_start', 'task_rework']);
    expect(controlTools).to.include.members([SPAWN_TOOL, 'task_approve', 'read_file']);
    expect(controlTools).to.not.include.members(['write_file', 'edit_file', 'delete_file', 'move_file']);
    // control may start impl only, which spawn_impl_session covers: no second spawn tool.
    expect(controlTools).to.not.include(SPAWN_SESSION_TOOL);
  });

  it('roles.<role>.tools replaces the defaults; an unknown tool name is a usage error', () => {
    const listed = parsePolicy('roles:\n  impl: { allow: [{ pattern: "src/**" }], tools: [read_file, complete_task] }\n', 'p.yaml');
    expect(roleTools(listed, 'impl', REGISTRY)).to.deep.equal(['read_file', 'complete_task']);
    const bad = parsePolicy('roles:\n  impl: { allow: [{ pattern: "src/**" }], tools: [read_file, rm_rf] }\n', 'p.yaml');
    expect(() => roleTools(bad, 'impl', REGISTRY)).to.throw(UsageError, /unknown tool\(s\): rm_rf/);
  });

  it('a role defined only in the file, without tools, gets the read-only defaults', () => {
    const p = parsePolicy('roles:\n  auditor: { description: reads }\n', 'p.yaml');
    expect(roleTools(p, 'auditor', REGISTRY)).to.deep.equal([...READ_ONLY_DEFAULTS]);
    // Read-only indeed: the only tool among them that asks for more than reads is complete_task, which ends the session.
    for (const t of READ_ONLY_DEFAULTS) if (t !== 'complete_task') expect(TOOL_ACTIONS[t], t).to.deep.equal(['read']);
  });

  it('spawn_session is offered to a role whose spawns names a role spawn_impl_session does not cover; its role is the enum of them', () => {
    const control = roleTools(TEAM, 'control', REGISTRY);
    expect(control).to.deep.equal(['read_file', SPAWN_TOOL, SPAWN_SESSION_TOOL, 'complete_task']);
    // A listed role holds exactly its list plus the spawn tool its spawns implies.
    expect(roleTools(TEAM, 'reviewer', REGISTRY)).to.deep.equal(['read_file', 'git_diff', 'complete_task', SPAWN_SESSION_TOOL]);
    expect(roleTools(TEAM, 'checker', REGISTRY)).to.deep.equal(['read_file', 'search_files', 'complete_task']);
    expect(toolOffer(TEAM, 'control').spawns).to.deep.equal([
      { name: 'impl', description: 'edits files within the paths its role is granted, then reports' },
      { name: 'reviewer', description: 'Reads the change and reports' },
    ]);
    const schema = REGISTRY.get(SPAWN_SESSION_TOOL)!.inputFor!(toolOffer(TEAM, 'control')) as any;
    expect(schema.properties.role.enum).to.deep.equal(['impl', 'reviewer']);
    expect(schema.properties.role.description).to.contain('reviewer (Reads the change and reports)');
    // Per session: another role is offered another enum, never the union.
    const reviewers = REGISTRY.get(SPAWN_SESSION_TOOL)!.inputFor!(toolOffer(TEAM, 'reviewer')) as any;
    expect(reviewers.properties.role.enum).to.deep.equal(['checker']);
  });

  it('spawn_impl_session follows spawns too: a control that may not start impl is not offered it', () => {
    const p = parsePolicy('roles:\n  control: { spawns: [reviewer] }\n  reviewer: {}\n', 'p.yaml');
    const tools = roleTools(p, 'control', REGISTRY);
    expect(tools).to.not.include(SPAWN_TOOL);
    expect(tools).to.include(SPAWN_SESSION_TOOL);
    const none = parsePolicy('roles:\n  control: { spawns: [] }\n', 'p.yaml');
    expect(roleTools(none, 'control', REGISTRY)).to.not.include.members([SPAWN_TOOL, SPAWN_SESSION_TOOL]);
    // Listing spawn_session without spawns offers nothing (policy:lint says so).
    const listed = parsePolicy('roles:\n  auditor: { tools: [read_file, spawn_session] }\n', 'p.yaml');
    expect(roleTools(listed, 'auditor', REGISTRY)).to.deep.equal(['read_file']);
  });

  it('the envelope is the role\'s tools and those of every role it may start, transitively, as deep as max_depth allows', () => {
    const at2 = roleEnvelope(TEAM, 'control', 2, REGISTRY);
    for (const t of [...roleTools(TEAM, 'impl', REGISTRY), ...roleTools(TEAM, 'reviewer', REGISTRY), ...roleTools(TEAM, 'checker', REGISTRY)]) {
      expect(at2.has(t), t).to.equal(true);
    }
    // checker is two levels below control: with max_depth 1 its tools are out of reach.
    const at1 = roleEnvelope(TEAM, 'control', 1, REGISTRY);
    expect(at1.has('search_files')).to.equal(false);
    expect(at1.has('git_diff')).to.equal(true);
    expect(at1.has('write_file')).to.equal(true);
    expect(roleEnvelope(TEAM, 'control', 0, REGISTRY).has('write_file')).to.equal(false);
    const reviewerAlone = roleEnvelope(TEAM, 'reviewer', 0, REGISTRY);
    expect([...reviewerAlone].sort()).to.deep.equal(roleTools(TEAM, 'reviewer', REGISTRY).sort());
    expect(roleEnvelope(TEAM, 'reviewer', 1, REGISTRY).has('search_files')).to.equal(true);
  });

  it('a child holds its role\'s tools ∩ its parent\'s envelope, at its depth', () => {
    const root = rootGrant(TEAM, 'control', 2, REGISTRY);
    const reviewer = childGrant(TEAM, 'reviewer', 1, 2, root.envelope, REGISTRY);
    expect(reviewer.tools).to.deep.equal(roleTools(TEAM, 'reviewer', REGISTRY));
    expect(reviewer.envelope.has('search_files')).to.equal(true); // it may start a checker
    const checker = childGrant(TEAM, 'checker', 2, 2, reviewer.envelope, REGISTRY);
    expect(checker.tools).to.deep.equal(['read_file', 'search_files', 'complete_task']);
    // A parent with a smaller envelope bounds the child, whatever the child's role lists.
    const small = new Set(['read_file', 'complete_task']);
    const bounded = childGrant(TEAM, 'checker', 2, 2, small, REGISTRY);
    expect(bounded.tools).to.deep.equal(['read_file', 'complete_task']);
    expect([...bounded.envelope].sort()).to.deep.equal(['complete_task', 'read_file']);
  });

  it('a child never holds a tool its role lacks, even if the parent envelope has it; a grandchild cannot regain anything', () => {
    const root = rootGrant(DEFAULTS, 'control', 2, REGISTRY);
    const child = childGrant(DEFAULTS, 'impl', 1, 2, root.envelope, REGISTRY);
    expect(child.tools).to.deep.equal(implTools);
    expect(child.tools).to.not.include('task_approve');
    expect(childGrant(DEFAULTS, 'impl', 1, 2, new Set(), REGISTRY).tools).to.deep.equal([]);
    const envelope = new Set(['read_file', 'list_files', 'complete_task', SPAWN_TOOL, 'task_approve']);
    const narrowed = within({ tools: [...implTools], envelope: new Set(implTools) }, envelope);
    expect(narrowed.tools.sort()).to.deep.equal(['complete_task', 'list_files', 'read_file']);
    expect([...narrowed.envelope].sort()).to.deep.equal(narrowed.tools);
    const grandchild = within({ tools: [...implTools, SPAWN_TOOL, 'task_approve'], envelope: new Set([...implTools, SPAWN_TOOL]) }, narrowed.envelope);
    expect(grandchild.tools.sort()).to.deep.equal(['complete_task', 'list_files', 'read_file']);
  });
});
