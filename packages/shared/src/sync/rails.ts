import type { DeleteBlock, SyncPlan } from "./plan-types.ts";

/** @default share limit of delete rail 3, in percent of the destination's items. */
export const DEFAULT_MAX_DELETE_PERCENT = 50;

/** What {@link checkDeleteRails} decides on. */
export interface DeleteRailsInput {
  /** The source (for messages). */
  source: string;
  /** The destination (for messages). */
  destination: string;
  /** Source items that take part (after filters). */
  sourceCount: number;
  /** Destination items that take part (after filters). */
  destinationCount: number;
  /** Items the plan would delete. */
  deleteCount: number;
  /** Scan and listing errors (source or destination). */
  errorCount: number;
  maxDelete?: number | undefined;
  maxDeletePercent?: number | undefined;
  allowEmptySource?: boolean | undefined;
}

/**
 * Delete rails 2–4, decided on a plan before anything changes (rail 1, a missing source, is an error of the
 * scan itself; rails 5 and 6 are kept by `applySyncPlan`):
 * - rail 4: any scan or listing error drops every delete (an unreadable folder makes its files look extraneous);
 * - rail 2: an empty source against a non-empty destination deletes nothing unless `allowEmptySource`;
 * - rail 3: more than `maxDelete` deletes, or (when `maxDelete` is not given, or `maxDeletePercent` is) more
 *   than `maxDeletePercent` of the destination, stops the run.
 * @returns the block, or `undefined` when the deletes may go ahead.
 */
export function checkDeleteRails(input: DeleteRailsInput): DeleteBlock | undefined {
  const { deleteCount, destinationCount } = input;
  if (deleteCount === 0) return undefined;
  if (input.errorCount > 0) {
    return {
      code: "scanErrors",
      message: `Not deleting ${deleteCount} item(s) at ${input.destination}: ${input.errorCount} path(s) or key(s) could not be read, so some of them may still exist at the source. Fix the errors and run again.`,
    };
  }
  if (input.sourceCount === 0 && !input.allowEmptySource) {
    return {
      code: "emptySource",
      message: `Refusing to delete: the source ${input.source} has no files (after filters) but ${input.destination} has ${destinationCount}, and deleting would empty it. Check the source path (a typo, or a disk that is not mounted?); to empty the destination on purpose pass --allow-empty-source (allowEmptySource).`,
    };
  }
  if (input.maxDelete !== undefined && deleteCount > input.maxDelete) {
    return {
      code: "tooManyDeletes",
      message: `Refusing to delete ${deleteCount} of ${destinationCount} item(s) at ${input.destination}: more than the limit of ${input.maxDelete}. Check the source, or pass --max-delete ${deleteCount} (maxDelete) to allow it.`,
    };
  }
  // An empty source allowed on purpose deletes everything: the share limit would only repeat the question.
  const emptyAllowed = input.sourceCount === 0 && input.allowEmptySource === true;
  const percentLimit = emptyAllowed
    ? undefined
    : (input.maxDeletePercent ?? (input.maxDelete === undefined ? DEFAULT_MAX_DELETE_PERCENT : undefined));
  if (percentLimit !== undefined && deleteCount * 100 > percentLimit * destinationCount) {
    const share = Math.ceil((deleteCount * 100) / Math.max(1, destinationCount));
    return {
      code: "tooManyDeletes",
      message: `Refusing to delete ${deleteCount} of ${destinationCount} item(s) at ${input.destination} (${share} %): more than the limit of ${percentLimit} %. Check the source, or pass --max-delete-percent ${share} (maxDeletePercent) or --max-delete ${deleteCount} (maxDelete) to allow it.`,
    };
  }
  return undefined;
}

/**
 * The delete rails decided again on a finished plan (one read back from JSON, or with errors a caller added,
 * such as listing problems of its own layout): the same rules as {@link checkDeleteRails}.
 * @returns the block, or `undefined` when the plan's deletes may go ahead (or it has none).
 */
export function checkPlanRails(plan: SyncPlan): DeleteBlock | undefined {
  if (plan.deletes.length === 0) return undefined;
  const upload = plan.direction === "upload";
  return checkDeleteRails({
    source: upload ? plan.local : plan.remote,
    destination: upload ? plan.remote : plan.local,
    sourceCount: plan.totals.sourceFiles,
    destinationCount: plan.totals.destinationFiles,
    deleteCount: plan.deletes.length,
    errorCount: plan.errors.length,
    maxDelete: plan.maxDelete,
    maxDeletePercent: plan.maxDeletePercent,
    allowEmptySource: plan.allowEmptySource === true,
  });
}
