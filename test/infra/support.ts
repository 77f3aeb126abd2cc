/** Helpers for reading synthesized templates in the infra tests. */
import { fileURLToPath } from 'node:url';
import { CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { flattenReference } from '../../lib/infra/nag.ts';

/** A tiny handler that bundles in milliseconds. */
export const FIXTURE_ENTRY = fileURLToPath(new URL('./fixtures/handler.ts', import.meta.url));
export const FIXTURE_ENTRIES = { exit: FIXTURE_ENTRY, restart: FIXTURE_ENTRY, sync: FIXTURE_ENTRY, deliver: FIXTURE_ENTRY } as const;

/** The logical id of a construct's CloudFormation resource (its default child, or itself). */
export function logicalId(construct: IConstruct): string {
  const element = CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild;
  if (!element || !CfnElement.isCfnElement(element)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).resolve(element.logicalId) as string;
}

/** One IAM statement, with references rendered as cdk-nag renders them (`<Id.Arn>`, `<Id>`). */
export interface Statement {
  readonly sid?: string;
  readonly effect: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly condition?: unknown;
}

type Resource = { Type: string; Properties?: Record<string, unknown> };
type RawStatement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function normalize(statement: RawStatement): Statement {
  return {
    ...(statement.Sid ? { sid: statement.Sid } : {}),
    effect: statement.Effect,
    actions: asArray(statement.Action).slice().sort(),
    resources: asArray(statement.Resource).map(flattenReference).sort(),
    ...(statement.Condition ? { condition: statement.Condition } : {}),
  };
}

/**
 * Every identity-policy statement in the template, by the logical id of the
 * role it applies to: AWS::IAM::Policy and AWS::IAM::ManagedPolicy documents
 * attached to roles, and roles' inline policies.
 */
export function statementsByRole(template: Template): Map<string, Statement[]> {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const byRole = new Map<string, Statement[]>();
  const add = (role: string, statements: RawStatement[]) => {
    byRole.set(role, [...(byRole.get(role) ?? []), ...statements.map(normalize)]);
  };
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Role') {
      if (!byRole.has(id)) byRole.set(id, []);
      for (const policy of (props.Policies as Array<{ PolicyDocument: { Statement: RawStatement[] } }> | undefined) ?? []) {
        add(id, policy.PolicyDocument.Statement);
      }
    }
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      const document = props.PolicyDocument as { Statement: RawStatement[] };
      for (const role of (props.Roles as Array<{ Ref: string }> | undefined) ?? []) add(role.Ref, document.Statement);
      if ((props.Users as unknown[] | undefined)?.length || (props.Groups as unknown[] | undefined)?.length) {
        throw new Error(`${id} applies to users or groups; the stack should create none`);
      }
    }
  }
  return byRole;
}

/** The statements of one role, as `action → resources` pairs, one pair per action and resource. */
export function grants(statements: readonly Statement[]): string[] {
  return statements.flatMap((statement) => statement.actions.flatMap((action) => statement.resources.map((resource) => `${action} ${resource}`))).sort();
}

/** The assume-role policy of a role, with references rendered. */
export function trustPolicy(template: Template, roleId: string): Statement[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const document = resources[roleId]?.Properties?.AssumeRolePolicyDocument as { Statement: Array<RawStatement & { Principal: unknown }> };
  return document.Statement.map((statement) => ({
    ...normalize({ ...statement, Resource: [] }),
    principal: statement.Principal,
  }));
}

/** Logical ids of resources of one type. */
export function idsOfType(template: Template, type: string): string[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id]) => id);
}

/** Resource counts by type. */
export function resourceCounts(template: Template): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const resource of Object.values(template.toJSON().Resources as Record<string, Resource>)) {
    counts[resource.Type] = (counts[resource.Type] ?? 0) + 1;
  }
  return counts;
}

/**
 * A dependency cycle among the template's resources (through Ref, GetAtt,
 * Sub and DependsOn), or undefined when there is none.
 */
export function findCycle(template: Template): string[] | undefined {
  const resources = template.toJSON().Resources as Record<string, Resource & { DependsOn?: string | string[] }>;
  const ids = new Set(Object.keys(resources));
  const edges = new Map<string, Set<string>>();
  const collect = (node: unknown, into: Set<string>): void => {
    if (Array.isArray(node)) return node.forEach((item) => collect(item, into));
    if (!node || typeof node !== 'object') return;
    const value = node as Record<string, unknown>;
    if (typeof value.Ref === 'string' && ids.has(value.Ref)) into.add(value.Ref);
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && ids.has(getAtt[0])) into.add(getAtt[0]);
    const sub = value['Fn::Sub'];
    if (typeof sub === 'string') for (const match of sub.matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}/g)) if (ids.has(match[1]!)) into.add(match[1]!);
    for (const child of Object.values(value)) collect(child, into);
  };
  for (const [id, resource] of Object.entries(resources)) {
    const into = new Set<string>();
    collect(resource.Properties, into);
    for (const dependency of asArray(resource.DependsOn ?? [])) into.add(dependency);
    edges.set(id, into);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of ids) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}
