// A session that opens a transaction and sits in it, as a forgotten `psql` after BEGIN would: it
// holds the xmin horizon, so VACUUM cannot reclaim rows that died after it began.
import { connect } from '../../src/db/connect'
import { waitFor } from './wait'

export interface OpenTransaction {
  /** The backend holding the transaction (pg_stat_activity.pid). */
  pid: number
  /** Ends the transaction and closes the session. */
  release(): Promise<void>
}

export async function holdOpenTransaction(url: string, applicationName: string): Promise<OpenTransaction> {
  const holder = connect(url, { max: 1, applicationName })
  let release!: () => void
  const released = new Promise<void>((r) => {
    release = r
  })
  let pid = 0
  const open = holder.begin(async (tx) => {
    pid = (await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid, txid_current()`)[0]!.pid
    await released
  })
  await waitFor('the transaction to open', () => pid > 0, { timeoutMs: 5000, intervalMs: 20 })
  return {
    pid,
    async release() {
      release()
      await open
      await holder.end()
    },
  }
}
