import type { TaskHandler } from './contract'
import { dataProcessing } from './data-processing'
import { delayTask } from './delay-task'
import { email } from './email'
import { fileCleanup } from './file-cleanup'
import { outboundPolicy } from './outbound'
import { reportGeneration } from './report-generation'
import { webhook } from './webhook'

/** The six built-in types of CONTRACT §4. */
export function builtinHandlers(opts: {
  sandboxDir: string
  /** Private hosts and ranges the webhook may call anyway (STARTER__WEBHOOK__ALLOW_HOSTS). */
  webhookAllowHosts?: readonly string[]
}): TaskHandler[] {
  return [
    email,
    webhook(outboundPolicy(opts.webhookAllowHosts)),
    dataProcessing,
    fileCleanup(opts.sandboxDir),
    reportGeneration,
    delayTask,
  ] as TaskHandler[]
}

/** Their names: a handler module may not take one. */
export const BUILTIN_TYPES: readonly string[] = builtinHandlers({ sandboxDir: '.' }).map((h) => h.type)
