/**
 * What figure 3 bundles (bundle.ts): the flattener and the privacy policy it applies, from one bundle, as the
 * Lambda has them.
 */
export { flattenVisitState, newFlattenPlans } from '../../lib/capture/flatten';
export { createPrivacyPolicy, keepEverythingPolicy } from '../../lib/privacy/policy';
