/**
 * The one edge for IAM changes (DESIGN 3.4): the EventBridge envelope of a CloudTrail "AWS API Call" event,
 * parsed by one schema for every runtime that receives it (the iamChange function, `serve`'s
 * `POST /events/eventbridge`). Every field is caller-controlled: strings are bounded, shapes checked,
 * unknown fields ignored.
 */
import { z } from 'zod';

const text = (max: number) => z.string().transform((v) => (v.length > max ? `${v.slice(0, max - 1)}…` : v));

export const cloudTrailEnvelope = z.looseObject({
  source: z.string().optional(),
  'detail-type': z.string().optional(),
  /** The account the event happened in (a member account's events arrive forwarded). */
  account: z.string().optional(),
  region: z.string().optional(),
  detail: z
    .looseObject({
      eventName: text(128).optional(),
      eventTime: text(64).optional(),
      eventID: text(128).optional(),
      errorCode: text(256).optional(),
      sourceIPAddress: text(256).optional(),
      userAgent: text(512).optional(),
      requestParameters: z
        .looseObject({
          roleName: z.unknown().optional(),
          // PutRolePolicy/DeleteRolePolicy name an inline policy, Attach/DetachRolePolicy a managed one.
          policyName: text(128).optional().catch(undefined),
          policyArn: text(2048).optional().catch(undefined),
        })
        .nullable()
        .optional(),
      userIdentity: z
        .looseObject({
          type: text(64).optional(),
          arn: text(2048).optional(),
          invokedBy: text(256).optional(),
          sessionContext: z
            .looseObject({
              sessionIssuer: z.looseObject({ arn: text(2048).optional() }).optional(),
              // Set when the session was opened (STS SourceIdentity); STS allows at most 64 characters.
              sourceIdentity: text(128).optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
});

export type CloudTrailEnvelope = z.infer<typeof cloudTrailEnvelope>;
export type CloudTrailDetail = NonNullable<CloudTrailEnvelope['detail']>;

/** Parses an EventBridge CloudTrail envelope, or says what is wrong with it. */
export function parseIamEvent(raw: unknown): { ok: true; envelope: CloudTrailEnvelope } | { ok: false; error: string } {
  const parsed = cloudTrailEnvelope.safeParse(raw);
  if (parsed.success) return { ok: true, envelope: parsed.data };
  const issue = parsed.error.issues[0]!;
  return {
    ok: false,
    error: `not an EventBridge CloudTrail event: ${issue.path.join('.') || '(event)'}: ${issue.message}`,
  };
}
