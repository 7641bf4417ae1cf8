// A PostgreSQL wire-protocol server in front of one PGlite, on a unix socket. PGlite is a single
// backend session, so every client connection shares it; this server makes that safe:
//
// - A connection owns the session from its first message to the end of its protocol cycle (Sync or
//   a simple Query), and on through any transaction it opened. @electric-sql/pglite-socket 0.2.17
//   interleaves single messages instead, and with two busy connections one's Bind replaced the
//   other's unnamed portal ("portal \"\" does not exist", or worse, another query's rows): it broke
//   4 of 10 worker tests here. Others queue meanwhile, first come first served.
// - NOTIFY reaches LISTENers: a notification comes out on the connection that ran the NOTIFY (the
//   session is shared), so NotificationResponse messages are copied to every other connection too.
//   postgres.js ignores them on connections that do not listen.
// - A client that goes away mid-cycle or mid-transaction is cleaned up (Sync, ROLLBACK), so the
//   next one finds the session idle.
// - Asynchronous commits reach the disk within 200 ms, as with a real server's WAL writer (flushWal).
// Still true, by nature: one transaction at a time; a statement on another connection awaited
// inside a transaction waits forever (the engine's transactions only use their `tx`).
import { rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import type { PGlite } from '@electric-sql/pglite'

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608
const SYNC = 0x53 // 'S'
const QUERY = 0x51 // 'Q'
const TERMINATE = 0x58 // 'X'
const NOTIFICATION = 0x41 // 'A'
/** PostgreSQL's default wal_writer_delay. */
const WAL_FLUSH_MS = 200

interface Conn {
  socket: Socket
  started: boolean
  buffer: Buffer
  /** Complete messages not yet run; the first one of a connection is its startup message. */
  inbox: { msg: Uint8Array; startup: boolean }[]
  closed: boolean
}

export interface PGliteServerOptions {
  path: string
  /** Beyond this, a connection is refused with SQLSTATE 53300 (too_many_connections), not left hanging. */
  maxConnections: number
  /** How soon after a transaction its WAL is flushed (default 200 ms; 0 never, for in-memory databases). */
  walFlushMs?: number
}

export class PGliteServer {
  private readonly conns = new Set<Conn>()
  private readonly refused = new Set<Socket>()
  private readonly waiting: Conn[] = []
  private owner: Conn | undefined
  /** Mid extended-protocol cycle (between the owner's first message and its Sync). */
  private inCycle = false
  private pumping = false
  private flushTimer: Timer | undefined
  private flushDue = false
  /** WAL flushes done (tests wait on it). */
  flushes = 0
  private server: Server | undefined

  constructor(
    private readonly db: PGlite,
    private readonly opts: PGliteServerOptions,
  ) {}

  async start(): Promise<void> {
    rmSync(this.opts.path, { force: true })
    const server = createServer((socket) => this.accept(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.opts.path, () => resolve())
    })
    this.server = server
  }

  async stop(): Promise<void> {
    clearTimeout(this.flushTimer)
    const closed = new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    )
    for (const c of this.conns) c.socket.destroy()
    for (const s of this.refused) s.destroy()
    // close() waits for every socket to be gone; a client that ignores the reset must not hold us.
    await Promise.race([closed, Bun.sleep(1000)])
    // Wait for the statement in flight and the clean-up of the owner that just went away.
    for (let i = 0; i < 200 && (this.pumping || this.owner); i++) await Bun.sleep(10)
    rmSync(this.opts.path, { force: true })
  }

  get connections(): number {
    return this.conns.size
  }

  private accept(socket: Socket): void {
    if (this.conns.size >= this.opts.maxConnections) {
      this.refused.add(socket)
      socket.on('close', () => this.refused.delete(socket))
      socket.on('error', () => this.refused.delete(socket))
      socket.end(
        errorResponse(
          '53300',
          `too many connections to the embedded database (limit ${this.opts.maxConnections})`,
        ),
      )
      return
    }
    const conn: Conn = { socket, started: false, buffer: Buffer.alloc(0), inbox: [], closed: false }
    this.conns.add(conn)
    socket.setNoDelay(true)
    socket.on('data', (data: Buffer) => this.receive(conn, data))
    socket.on('error', () => this.drop(conn))
    socket.on('close', () => this.drop(conn))
  }

  private receive(conn: Conn, data: Buffer): void {
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, data]) : data
    for (;;) {
      const b = conn.buffer
      if (!conn.started) {
        if (b.length < 8) return
        const len = b.readInt32BE(0)
        if (b.length < len) return
        const code = b.readInt32BE(4)
        conn.buffer = b.subarray(len)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) conn.socket.write('N')
        else if (code === CANCEL_REQUEST) {
          // No backend process to interrupt; the protocol expects no answer.
          conn.socket.end()
          return
        } else if (code === PROTOCOL_3) {
          conn.started = true
          this.enqueue(conn, new Uint8Array(b.subarray(0, len)), true)
        } else {
          conn.socket.end(errorResponse('08P01', `unsupported protocol ${code >> 16}.${code & 0xffff}`))
          return
        }
        continue
      }
      if (b.length < 5) return
      const len = 1 + b.readInt32BE(1)
      if (b.length < len) return
      conn.buffer = b.subarray(len)
      if (b[0] === TERMINATE) {
        conn.socket.end()
        return
      }
      this.enqueue(conn, new Uint8Array(b.subarray(0, len)), false)
    }
  }

  private enqueue(conn: Conn, msg: Uint8Array, startup: boolean): void {
    conn.inbox.push({ msg, startup })
    if (conn !== this.owner && !this.waiting.includes(conn)) this.waiting.push(conn)
    void this.pump()
  }

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      for (;;) {
        if (!this.owner && this.flushDue) {
          await this.flushWal()
          continue
        }
        if (!this.owner) this.owner = this.waiting.shift()
        const conn = this.owner
        if (!conn) return
        if (conn.closed) {
          await this.release(conn)
          continue
        }
        const next = conn.inbox.shift()
        // The owner is between two messages of its cycle or transaction: everyone waits for it.
        if (!next) return
        try {
          this.route(conn, await this.exec(next.msg))
        } catch (err) {
          // PGlite itself failed (closing, out of memory): this client cannot go on.
          conn.socket.destroy(err as Error)
          this.drop(conn)
          continue
        }
        this.inCycle = !(next.startup || next.msg[0] === SYNC || next.msg[0] === QUERY)
        if (!this.inCycle && !this.db.isInTransaction()) {
          this.scheduleFlush()
          this.owner = undefined
          if (conn.inbox.length > 0) this.waiting.push(conn)
        }
      }
    } finally {
      this.pumping = false
    }
  }

  private async exec(msg: Uint8Array): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(msg, { onRawData: (d) => void out.push(d.slice()) }),
    )
    return out
  }

  /** Everything to the owner; notifications also to every other connection (see the file comment). */
  private route(owner: Conn, out: Uint8Array[]): void {
    if (out.length === 0) return
    const all = out.length === 1 ? Buffer.from(out[0]!) : Buffer.concat(out)
    if (!owner.closed) owner.socket.write(all)
    if (this.conns.size < 2 || !all.includes(NOTIFICATION)) return
    for (let i = 0; i + 5 <= all.length; ) {
      const len = 1 + all.readInt32BE(i + 1)
      if (all[i] === NOTIFICATION) {
        const note = all.subarray(i, i + len)
        for (const c of this.conns) if (c !== owner && c.started && !c.closed) c.socket.write(note)
      }
      i += len
    }
  }

  /** At most one flush per interval, once the session is between transactions. */
  private scheduleFlush(): void {
    if (this.flushTimer || this.opts.walFlushMs === 0) return
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined
      this.flushDue = true
      void this.pump()
    }, this.opts.walFlushMs ?? WAL_FLUSH_MS)
  }

  /**
   * PGlite has no WAL writer, so a commit made with synchronous_commit off (the worker's claims,
   * outcomes and lease extensions) stays in memory until some later synchronous commit: measured,
   * 50 such commits all vanished on kill -9. A transaction that writes WAL commits synchronously and
   * so flushes everything before it, as PostgreSQL's WAL writer would every wal_writer_delay (200 ms).
   * A transactional logical message is the smallest WAL-writing transaction that touches no table
   * (`SELECT pg_current_xact_id()` is not enough: a commit that wrote no WAL of its own is not flushed).
   */
  private async flushWal(): Promise<void> {
    this.flushDue = false
    try {
      await this.exec(simpleQuery("SELECT pg_logical_emit_message(true, 'tasklab', '')"))
      this.flushes++
    } catch {
      // Closing: the clean shutdown writes everything anyway.
    }
  }

  private drop(conn: Conn): void {
    if (conn.closed) return
    conn.closed = true
    conn.inbox.length = 0
    this.conns.delete(conn)
    const i = this.waiting.indexOf(conn)
    if (i !== -1) this.waiting.splice(i, 1)
    if (this.owner === conn) void this.pump()
  }

  /** The owner went away: end its cycle and its transaction so the session is clean for the next. */
  private async release(conn: Conn): Promise<void> {
    try {
      if (this.inCycle) await this.exec(new Uint8Array([SYNC, 0, 0, 0, 4]))
      if (this.db.isInTransaction()) await this.exec(simpleQuery('ROLLBACK'))
    } catch {
      // The database is closing; nothing left to clean.
    }
    this.inCycle = false
    if (this.owner === conn) this.owner = undefined
  }
}

function simpleQuery(text: string): Uint8Array {
  const body = Buffer.from(`${text}\0`)
  const msg = Buffer.alloc(5 + body.length)
  msg[0] = QUERY
  msg.writeInt32BE(4 + body.length, 1)
  body.copy(msg, 5)
  return msg
}

/** An ErrorResponse, for refusing a connection before it reaches the database. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`)
  const msg = Buffer.alloc(5 + fields.length)
  msg[0] = 0x45 // 'E'
  msg.writeInt32BE(4 + fields.length, 1)
  fields.copy(msg, 5)
  return msg
}
