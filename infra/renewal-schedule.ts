/**
 * The scheduled renewal of `prewarm` profiles: an EventBridge Scheduler schedule that invokes the
 * vending function with the renewal event every minute, so a `prewarm` profile's token in the
 * table never falls below half its lifetime and no caller waits for CyberArk, even after a
 * night without requests. The function renews under the same refresh lease as requests, so a run
 * overlapping traffic (or a slow previous run) never sends a second token request.
 */
import { Aws, Duration, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import * as targets from "aws-cdk-lib/aws-scheduler-targets";
import { Construct } from "constructs";
import type { ProfilesConfig } from "../functions/core/profiles.js";
import { RENEWAL_EVENT } from "../functions/vend/renewal-event.js";
import { renderForNag } from "./nag.js";

/** How often the schedule runs: a token is renewed at most this long after its half-life. */
export const RENEWAL_RATE = Duration.minutes(1);

/** Whether any profile asks to be kept warm: only then is there a schedule. */
export function hasPrewarmProfiles(config: ProfilesConfig): boolean {
  return [...config.profiles.values()].some((profile) => profile.prewarm);
}

/** The renewal schedule and the role it invokes the function with. */
export class RenewalSchedule extends Construct {
  /** The schedule (rate 1 minute). */
  readonly schedule: scheduler.Schedule;
  /** Assumed by EventBridge Scheduler; may invoke exactly the vending function. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, fn: lambda.IFunction) {
    super(scope, id);
    // Its own role, not the Scheduler's shared one, so it can do nothing but this one invocation;
    // only schedules of this account may assume it (the confused-deputy condition).
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
      }),
      description: "cyberark-token-vending renewal schedule: invokes the vending function only",
    });
    this.schedule = new scheduler.Schedule(this, "Schedule", {
      schedule: scheduler.ScheduleExpression.rate(RENEWAL_RATE),
      description: "Renews the tokens of cyberark-token-vending profiles with prewarm: true",
      target: new targets.LambdaInvoke(fn, {
        input: scheduler.ScheduleTargetInput.fromObject(RENEWAL_EVENT),
        role: this.role,
        // The next run comes a minute later and retries whatever failed; a stale run is useless.
        retryAttempts: 0,
        maxEventAge: RENEWAL_RATE,
      }),
    });
    const policy = this.role.node.findChild("DefaultPolicy").node.findChild("Resource");
    const versions = renderForNag(Stack.of(this).resolve(`${fn.functionArn}:*`));
    Validations.of(policy).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${versions}]`,
      reason:
        "lambda:InvokeFunction on the vending function's own versions and aliases (ARN:*), as Lambda's grantInvoke writes it; no other function.",
    });
  }
}
