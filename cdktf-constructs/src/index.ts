// @capydb/cdktf-constructs: CDK for Terraform constructs for CapyDB.
//
// Hand-written L2 constructs (validated props, documented defaults) on top of the L1 bindings
// generated from the provider's schema (src/.gen, `npm run generate`). The L1 classes are exported
// too, under `capydb`, for what the constructs do not cover (preview databases, data sources).
export { CapyProvider, type CapyProviderProps } from "./provider.js";
export { CapyProject, type CapyProjectProps, type CapyProjectSettings, type CapyPlan, type CapyEnvironment, PLANS, ENVIRONMENTS } from "./project.js";
export { CapyBackupSchedule, type CapyBackupScheduleProps, type BackupScheduleOptions } from "./backup-schedule.js";
export { CapyExtension, type CapyExtensionProps } from "./extension.js";
export {
  CapyMaskingRules,
  type CapyMaskingRulesProps,
  type CapyMaskingRule,
  type CapyMaskingStrategy,
  type MaskingOptions,
  MASKING_STRATEGIES,
} from "./masking-rules.js";
export { CapyTrustPolicy, type CapyTrustPolicyProps, type CapyTrustPolicyCommand, type TrustGitHubOptions, TRUST_POLICY_COMMANDS } from "./trust-policy.js";
export * as capydb from "./.gen/providers/capydb/index.js";
