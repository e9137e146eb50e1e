/**
 * The one edge for IAM changes (DESIGN 3.4): the EventBridge envelope of a CloudTrail "AWS API Call" event,
 * parsed by one schema for every runtime that receives it (the iamChange function, `serve`'s
 * `POST /events/eventbridge`). Every field is caller-controlled: strings are bounded, shapes checked,
 * unknown fields ignored.
 */
import * as z from 'zod/mini';
import './zod.js'; // zod's English messages

const text = (max: number) =>
  z.pipe(
    z.string(),
    z.transform((v: string) => (v.length > max ? `${v.slice(0, max - 1)}…` : v)),
  );

export const cloudTrailEnvelope = z.looseObject({
  source: z.optional(z.string()),
  'detail-type': z.optional(z.string()),
  /** The account the event happened in (a member account's events arrive forwarded). */
  account: z.optional(z.string()),
  region: z.optional(z.string()),
  detail: z.optional(
    z.looseObject({
      eventName: z.optional(text(128)),
      eventTime: z.optional(text(64)),
      eventID: z.optional(text(128)),
      errorCode: z.optional(text(256)),
      sourceIPAddress: z.optional(text(256)),
      userAgent: z.optional(text(512)),
      requestParameters: z.optional(
        z.nullable(
          z.looseObject({
            roleName: z.optional(z.unknown()),
            // PutRolePolicy/DeleteRolePolicy name an inline policy, Attach/DetachRolePolicy a managed one.
            policyName: z.catch(z.optional(text(128)), undefined),
            policyArn: z.catch(z.optional(text(2048)), undefined),
          }),
        ),
      ),
      userIdentity: z.optional(
        z.looseObject({
          type: z.optional(text(64)),
          arn: z.optional(text(2048)),
          invokedBy: z.optional(text(256)),
          sessionContext: z.optional(
            z.looseObject({
              sessionIssuer: z.optional(z.looseObject({ arn: z.optional(text(2048)) })),
              // Set when the session was opened (STS SourceIdentity); STS allows at most 64 characters.
              sourceIdentity: z.optional(text(128)),
            }),
          ),
        }),
      ),
    }),
  ),
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
