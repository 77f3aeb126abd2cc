/**
 * Acknowledging cdk-nag findings (cdk-nag 3: `Validations.of(…).acknowledge`).
 * Every acknowledgment carries the reason the finding cannot be fixed.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges one AwsSolutions rule (or one finding of it) on `scope` and everything under it. */
export function acknowledgeNag(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Acknowledges AwsSolutions-IAM5 for one wildcard resource ARN in a policy
 * under `scope` (the finding is named by the ARN, flattened as cdk-nag does),
 * so any other wildcard in the same policy is still reported.
 */
export function acknowledgeWildcardResource(scope: IConstruct, arn: string, reason: string): void {
  const resolved: unknown = Stack.of(scope).resolve(arn);
  acknowledgeNag(scope, `AwsSolutions-IAM5[Resource::${flattenReference(resolved)}]`, reason);
}

/** cdk-nag's rendering of a CloudFormation value in finding ids: `Ref X` → `<X>`, `GetAtt X.Y` → `<X.Y>`. */
export function flattenReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const value = node as Record<string, unknown>;
    if (value['Fn::Join']) {
      const [delimiter, items] = value['Fn::Join'] as [string, unknown[]];
      return items.map(flattenReference).join(delimiter);
    }
    if (value['Fn::Sub']) return flattenReference(value['Fn::Sub']);
    if (value['Fn::GetAtt']) {
      const [resource, attribute] = value['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
    }
    if (value['Fn::ImportValue']) return flattenReference(value['Fn::ImportValue']);
    if (value.Ref) return `<${flattenReference(value.Ref)}>`;
  }
  return JSON.stringify(node);
}
