/** How the operator's patches are sent: their content types and the field manager they are recorded under. */
import * as k8s from '@kubernetes/client-node';
import { OPERATOR_NAME } from '../core/names';

export const MERGE_PATCH = { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } };
export const STRATEGIC_MERGE_PATCH = { headers: { 'Content-Type': k8s.PatchUtils.PATCH_FORMAT_STRATEGIC_MERGE_PATCH } };
/** managedFields names the operator as the writer of what it patches. */
export const FIELD_MANAGER = OPERATOR_NAME;
